package sdk

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// The well-known types must be in protoregistry.GlobalFiles before
	// protodesc resolves the imports of the generated file.
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

var (
	typeContext  = reflect.TypeFor[context.Context]()
	typeError    = reflect.TypeFor[error]()
	typeTime     = reflect.TypeFor[time.Time]()
	typeDuration = reflect.TypeFor[time.Duration]()
)

// Well-known files and types the generated schema refers to.
const (
	fileEmpty     = "google/protobuf/empty.proto"
	fileWrappers  = "google/protobuf/wrappers.proto"
	fileTimestamp = "google/protobuf/timestamp.proto"
	fileDuration  = "google/protobuf/duration.proto"
	fileStruct    = "google/protobuf/struct.proto"
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// method is one exported Go method served as a unary RPC.
type method struct {
	name   string
	fn     reflect.Value
	hasCtx bool
	arg    reflect.Type // nil: no argument
	res    reflect.Type // nil: no result
	hasErr bool

	in, out protoreflect.MessageDescriptor
}

// builder turns Go types into descriptor protos for one generated file.
type builder struct {
	pkg     string
	file    *descriptorpb.FileDescriptorProto
	structs map[reflect.Type]string // struct type -> fully qualified name
	used    map[string]bool         // message names taken at the top level
}

func newBuilder(pkg, path string) *builder {
	return &builder{
		pkg: pkg,
		file: &descriptorpb.FileDescriptorProto{
			Name:    proto.String(path),
			Package: proto.String(pkg),
			Syntax:  proto.String("proto3"),
		},
		structs: map[reflect.Type]string{},
		used:    map[string]bool{},
	}
}

func (b *builder) addImport(f string) {
	for _, d := range b.file.Dependency {
		if d == f {
			return
		}
	}
	b.file.Dependency = append(b.file.Dependency, f)
}

// uniqueName reserves a top-level message name, adding a number on clashes.
func (b *builder) uniqueName(base string) string {
	base = sanitizeIdent(base)
	name := base
	for i := 2; b.used[name]; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	b.used[name] = true
	return name
}

// topLevel picks the message used for a method's argument or result of
// type t (nil: none). wrapName names the generated message that holds a
// top-level slice or map in its field "value".
func (b *builder) topLevel(t reflect.Type, wrapName string) (string, error) {
	if t == nil {
		b.addImport(fileEmpty)
		return ".google.protobuf.Empty", nil
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if wk, ok := wrapperFor(t); ok {
		b.addImport(fileWrappers)
		return ".google.protobuf." + wk, nil
	}
	switch {
	case t == typeTime:
		b.addImport(fileTimestamp)
		return ".google.protobuf.Timestamp", nil
	case t == typeDuration:
		b.addImport(fileDuration)
		return ".google.protobuf.Duration", nil
	case t.Kind() == reflect.Interface:
		if t.NumMethod() != 0 {
			return "", fmt.Errorf("type %s: only the empty interface (any) is supported", t)
		}
		b.addImport(fileStruct)
		return ".google.protobuf.Value", nil
	case t.Kind() == reflect.Struct:
		return b.message(t, "")
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Map:
		name := b.uniqueName(wrapName)
		msg := &descriptorpb.DescriptorProto{Name: proto.String(name)}
		b.file.MessageType = append(b.file.MessageType, msg)
		f, err := b.field(msg, "value", 1, t)
		if err != nil {
			return "", err
		}
		msg.Field = append(msg.Field, f)
		return "." + b.pkg + "." + name, nil
	}
	return "", fmt.Errorf("type %s is not supported", t)
}

// message returns the message generated for struct type t.
func (b *builder) message(t reflect.Type, hint string) (string, error) {
	if full, ok := b.structs[t]; ok {
		return full, nil
	}
	base := t.Name()
	if base == "" {
		base = hint
	}
	if base == "" {
		base = "Anonymous"
	}
	name := b.uniqueName(base)
	full := "." + b.pkg + "." + name
	b.structs[t] = full // before the fields: recursive types refer to it
	msg := &descriptorpb.DescriptorProto{Name: proto.String(name)}
	b.file.MessageType = append(b.file.MessageType, msg)

	fields, err := structFields(t)
	if err != nil {
		return "", err
	}
	for i, sf := range fields {
		f, err := b.field(msg, sf.name, int32(i+1), sf.typ)
		if err != nil {
			return "", fmt.Errorf("field %s.%s: %w", t, sf.goName, err)
		}
		msg.Field = append(msg.Field, f)
	}
	return full, nil
}

// field builds the descriptor of a field named name of Go type t in msg
// (which receives the entry message of a map field).
func (b *builder) field(msg *descriptorpb.DescriptorProto, name string, num int32, t reflect.Type) (*descriptorpb.FieldDescriptorProto, error) {
	f := &descriptorpb.FieldDescriptorProto{
		Name:     proto.String(name),
		JsonName: proto.String(name),
		Number:   proto.Int32(num),
		Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
	}
	switch {
	case isBytes(t):
		f.Type = descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum()
		return f, nil
	case t.Kind() == reflect.Slice:
		if err := b.element(f, t.Elem(), camel(name)); err != nil {
			return nil, err
		}
		f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
		return f, nil
	case t.Kind() == reflect.Map:
		key := &descriptorpb.FieldDescriptorProto{
			Name: proto.String("key"), JsonName: proto.String("key"), Number: proto.Int32(1),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		}
		kt, ok := scalarType(t.Key())
		if !ok || isBytes(t.Key()) || kt == descriptorpb.FieldDescriptorProto_TYPE_FLOAT || kt == descriptorpb.FieldDescriptorProto_TYPE_DOUBLE || t.Key() == typeDuration {
			return nil, fmt.Errorf("map key type %s is not supported (string, integer or bool only)", t.Key())
		}
		key.Type = kt.Enum()
		val := &descriptorpb.FieldDescriptorProto{
			Name: proto.String("value"), JsonName: proto.String("value"), Number: proto.Int32(2),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		}
		if err := b.element(val, t.Elem(), camel(name)+"Value"); err != nil {
			return nil, err
		}
		entry := &descriptorpb.DescriptorProto{
			Name:    proto.String(camel(name) + "Entry"),
			Field:   []*descriptorpb.FieldDescriptorProto{key, val},
			Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
		}
		msg.NestedType = append(msg.NestedType, entry)
		f.Type = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
		f.TypeName = proto.String(b.nestedName(msg, entry.GetName()))
		f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
		return f, nil
	}
	if err := b.element(f, t, camel(name)); err != nil {
		return nil, err
	}
	return f, nil
}

// nestedName is the full name of a message nested in a top-level message.
func (b *builder) nestedName(parent *descriptorpb.DescriptorProto, name string) string {
	return "." + b.pkg + "." + parent.GetName() + "." + name
}

// element sets f's type for a single value of Go type t: a scalar, a
// well-known type or a generated message. Slices and maps are not elements.
func (b *builder) element(f *descriptorpb.FieldDescriptorProto, t reflect.Type, hint string) error {
	setMsg := func(name string) {
		f.Type = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
		f.TypeName = proto.String(name)
	}
	if t.Kind() == reflect.Pointer {
		e := t.Elem()
		if wk, ok := wrapperFor(e); ok {
			b.addImport(fileWrappers)
			setMsg(".google.protobuf." + wk)
			return nil
		}
		if e.Kind() != reflect.Struct {
			return fmt.Errorf("type %s is not supported (pointers to structs and scalars only)", t)
		}
		t = e
	}
	switch {
	case t == typeTime:
		b.addImport(fileTimestamp)
		setMsg(".google.protobuf.Timestamp")
		return nil
	case t == typeDuration:
		b.addImport(fileDuration)
		setMsg(".google.protobuf.Duration")
		return nil
	case t.Kind() == reflect.Interface:
		if t.NumMethod() != 0 {
			return fmt.Errorf("type %s: only the empty interface (any) is supported", t)
		}
		b.addImport(fileStruct)
		setMsg(".google.protobuf.Value")
		return nil
	case t.Kind() == reflect.Struct:
		name, err := b.message(t, hint)
		if err != nil {
			return err
		}
		setMsg(name)
		return nil
	}
	if st, ok := scalarType(t); ok {
		f.Type = st.Enum()
		return nil
	}
	if t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		return fmt.Errorf("type %s is not supported: a slice or map cannot hold slices or maps (wrap the inner one in a struct)", t)
	}
	return fmt.Errorf("type %s is not supported", t)
}

// scalarType maps Go scalar kinds (and []byte) to protobuf scalar types.
func scalarType(t reflect.Type) (descriptorpb.FieldDescriptorProto_Type, bool) {
	if t == typeDuration {
		return 0, false
	}
	if isBytes(t) {
		return descriptorpb.FieldDescriptorProto_TYPE_BYTES, true
	}
	switch t.Kind() {
	case reflect.Bool:
		return descriptorpb.FieldDescriptorProto_TYPE_BOOL, true
	case reflect.String:
		return descriptorpb.FieldDescriptorProto_TYPE_STRING, true
	case reflect.Int, reflect.Int64:
		return descriptorpb.FieldDescriptorProto_TYPE_INT64, true
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return descriptorpb.FieldDescriptorProto_TYPE_INT32, true
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return descriptorpb.FieldDescriptorProto_TYPE_UINT64, true
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return descriptorpb.FieldDescriptorProto_TYPE_UINT32, true
	case reflect.Float32:
		return descriptorpb.FieldDescriptorProto_TYPE_FLOAT, true
	case reflect.Float64:
		return descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, true
	}
	return 0, false
}

// wrapperFor names the google.protobuf wrapper message for a scalar type.
func wrapperFor(t reflect.Type) (string, bool) {
	st, ok := scalarType(t)
	if !ok {
		return "", false
	}
	switch st {
	case descriptorpb.FieldDescriptorProto_TYPE_BOOL:
		return "BoolValue", true
	case descriptorpb.FieldDescriptorProto_TYPE_STRING:
		return "StringValue", true
	case descriptorpb.FieldDescriptorProto_TYPE_BYTES:
		return "BytesValue", true
	case descriptorpb.FieldDescriptorProto_TYPE_INT64:
		return "Int64Value", true
	case descriptorpb.FieldDescriptorProto_TYPE_INT32:
		return "Int32Value", true
	case descriptorpb.FieldDescriptorProto_TYPE_UINT64:
		return "UInt64Value", true
	case descriptorpb.FieldDescriptorProto_TYPE_UINT32:
		return "UInt32Value", true
	case descriptorpb.FieldDescriptorProto_TYPE_FLOAT:
		return "FloatValue", true
	case descriptorpb.FieldDescriptorProto_TYPE_DOUBLE:
		return "DoubleValue", true
	}
	return "", false
}

func isBytes(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// structField is one field of a generated message: the Go field it comes
// from (an index path, as embedded structs are flattened) and its name.
type structField struct {
	index  []int
	goName string
	name   string
	typ    reflect.Type
}

// structFields lists the fields of struct type t the way encoding/json
// sees them: exported fields, named by their json tag when present,
// `json:"-"` left out, untagged embedded structs flattened.
func structFields(t reflect.Type) ([]structField, error) {
	var out []structField
	seen := map[string]string{}
	var walk func(t reflect.Type, prefix []int) error
	walk = func(t reflect.Type, prefix []int) error {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if tag == "-" {
				continue
			}
			index := append(append([]int(nil), prefix...), i)
			if sf.Anonymous && tag == "" && sf.Type.Kind() == reflect.Struct {
				if err := walk(sf.Type, index); err != nil {
					return err
				}
				continue
			}
			if !sf.IsExported() {
				continue
			}
			name := sf.Name
			if tag != "" {
				name = tag
			}
			if !identRE.MatchString(name) {
				return fmt.Errorf("field %s.%s: name %q is not a valid protobuf field name (letters, digits and _ only)", t, sf.Name, name)
			}
			if prev, ok := seen[name]; ok {
				return fmt.Errorf("field %s.%s: name %q is already used by field %s", t, sf.Name, name, prev)
			}
			seen[name] = sf.Name
			out = append(out, structField{index: index, goName: sf.Name, name: name, typ: sf.Type})
		}
		return nil
	}
	if err := walk(t, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// sanitizeIdent makes s a protobuf identifier.
func sanitizeIdent(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
	}
	out := strings.Trim(sb.String(), "_")
	if out == "" || unicode.IsDigit(rune(out[0])) {
		out = "X" + out
	}
	return out
}

// camel turns "first_name" or "kv-js" into "FirstName" / "KvJs".
func camel(s string) string {
	var sb strings.Builder
	up := true
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		sb.WriteRune(r)
	}
	out := sb.String()
	if out == "" || unicode.IsDigit(rune(out[0])) {
		out = "X" + out
	}
	return out
}

// linkMu makes look-up-then-register atomic: protoregistry.GlobalFiles
// panics (by default) on a second registration of a path, so two servers
// built at once for the same name must not both register.
var linkMu sync.Mutex

// link builds, checks and registers the file in protoregistry.GlobalFiles,
// where go-plugin's reflection service looks symbols up. A file already
// registered under the same path (a second in-process test server for the
// same type) is reused when it is identical.
func link(fdp *descriptorpb.FileDescriptorProto) (protoreflect.FileDescriptor, error) {
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		return nil, fmt.Errorf("build schema: %w", err)
	}
	linkMu.Lock()
	defer linkMu.Unlock()
	if prev, err := protoregistry.GlobalFiles.FindFileByPath(fd.Path()); err == nil {
		if proto.Equal(protodesc.ToFileDescriptorProto(prev), protodesc.ToFileDescriptorProto(fd)) {
			return prev, nil
		}
		return nil, fmt.Errorf("schema %s is already registered with other content: give each served value its own ServeConfig.Name", fd.Path())
	}
	if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
		return nil, fmt.Errorf("register schema: %w", err)
	}
	return fd, nil
}
