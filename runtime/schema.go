package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/grpc"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/runtime/protoimpl"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/plugctl/plugctl/internal/regfile"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// ErrNoReflection is wrapped when a gRPC plugin offers no server reflection
// and no schema was given (--proto, --protoset or the index's
// protocol.schema).
var ErrNoReflection = errors.New("no gRPC server reflection")

// Schema sources, as Description.Schema reports them.
const (
	SchemaReflection = "reflection"
	SchemaProto      = "proto"
	SchemaProtoset   = "protoset"
)

// internalServices are go-plugin's and gRPC's own services: never matched
// by a short method name and left out of Describe.
var internalServices = map[string]bool{
	"plugin.GRPCBroker":                        true,
	"plugin.GRPCController":                    true,
	"plugin.GRPCStdio":                         true,
	"grpc.health.v1.Health":                    true,
	"grpc.reflection.v1.ServerReflection":      true,
	"grpc.reflection.v1alpha.ServerReflection": true,
}

// schema is what a generic call needs: descriptors and the services the
// plugin offers.
type schema struct {
	files    *protoregistry.Files
	types    *dynamicpb.Types
	services []protoreflect.ServiceDescriptor
	source   string

	// Of a schema from reflection, what the reflection cache keeps: the
	// files and the services the plugin listed. cached: read from it.
	set    *descriptorpb.FileDescriptorSet
	listed []string
	cached bool
}

func newSchema(files *protoregistry.Files, names []string, source string) (*schema, error) {
	s := &schema{files: files, types: dynamicpb.NewTypes(files), source: source}
	if names == nil {
		// A schema from files: every service the files declare.
		files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			for i := 0; i < fd.Services().Len(); i++ {
				names = append(names, string(fd.Services().Get(i).FullName()))
			}
			return true
		})
	}
	sort.Strings(names)
	for _, n := range names {
		d, err := files.FindDescriptorByName(protoreflect.FullName(n))
		if err != nil {
			continue // listed by reflection but not resolvable: skip
		}
		if sd, ok := d.(protoreflect.ServiceDescriptor); ok {
			s.services = append(s.services, sd)
		}
	}
	return s, nil
}

// schemaFor returns the schema for a call or description: from --proto
// files, a --protoset, the spec's protoset, or else gRPC reflection (the
// last two loaded once per Plugin: a Manager's Plugin serves many calls).
// method, when set, may name an internal service that reflection must then
// also load.
//
// What reflection finds is cached on disk per installed version
// (Spec.ReflectionCache: plugins/NAME/VERSION/.reflection.cache, see
// readReflectionCache), so that a later call, in another process, does
// not pay reflection's round trips. The cache is used only when it names
// method (a schema without it is reflected again, and the cache rewritten),
// was written for the executable's SHA-256, and parses; anything else is
// ignored and rewritten. It cannot be stale for the binary it names:
// descriptors are compiled into it. --proto, --protoset and the index's
// protoset come first, as before.
func (p *Plugin) schemaFor(ctx context.Context, co CallOptions, method string) (*schema, error) {
	switch {
	case len(co.ProtoFiles) > 0:
		return compileProtos(ctx, co.ProtoFiles, co.ImportPaths)
	case co.Protoset != "":
		return readProtoset(co.Protoset, "")
	}
	p.schemaMu.Lock()
	defer p.schemaMu.Unlock()
	if p.spec.Protoset != "" {
		if p.protoset == nil {
			s, err := readProtoset(p.spec.Protoset, p.spec.ProtosetSHA256)
			if err != nil {
				return nil, err
			}
			p.protoset = s
		}
		return p.protoset, nil
	}
	want := ""
	if svc, _ := splitMethod(method); internalServices[svc] {
		want = svc
	}
	usable := func(s *schema) bool {
		return s != nil && (want == "" || s.has(want)) && (!s.cached || s.knows(method))
	}
	if usable(p.refl) {
		return p.refl, nil
	}
	cache := p.spec.ReflectionCache
	if p.refl == nil && cache != "" {
		if s := readReflectionCache(cache, p.spec.SHA256); usable(s) {
			p.refl = s
			return s, nil
		}
	}
	p.reflections++
	s, err := reflectSchema(ctx, p.conn, want)
	if err != nil {
		if errors.Is(err, ErrNoReflection) {
			return nil, fmt.Errorf("plugin %s: %w: give its schema as .proto files or a protoset", p.spec.Name, err)
		}
		return nil, p.grpcError(ctx, "grpc.reflection.v1.ServerReflection/ServerReflectionInfo", err)
	}
	p.refl = s
	if cache != "" {
		// Best effort: a store we cannot write to (read-only, shared)
		// just means reflection at every call.
		_ = writeReflectionCache(cache, p.spec.SHA256, s)
	}
	return s, nil
}

// preloadSchema reads the reflection cache on a goroutine of its own, for
// the first schemaFor to find it loaded: Launch runs it during the
// plugin's start. schemaFor waits for it (schemaMu) and still checks that
// the schema knows the method called.
func (p *Plugin) preloadSchema() {
	cache := p.spec.ReflectionCache
	if cache == "" || p.spec.Protoset != "" {
		return
	}
	p.schemaMu.Lock()
	go func() {
		defer p.schemaMu.Unlock()
		if p.refl == nil {
			p.refl = readReflectionCache(cache, p.spec.SHA256)
		}
	}()
}

// knows reports whether method (as Call takes it) names at least one
// method of s; an empty method (Describe) is known.
func (s *schema) knows(method string) bool {
	if method == "" {
		return true
	}
	_, err := s.resolve("", method)
	return !errors.Is(err, ErrMethodNotFound)
}

// The reflection cache's format: a header of four lines, then the
// FileDescriptorSet (binary, deterministic, files sorted by name):
//
//	plugctl-reflection-cache 2
//	sha256 <hex SHA-256 of the executable it was made with>
//	services <the services the plugin listed, space-separated>
//	body <hex SHA-256 of the FileDescriptorSet>
//
// The descriptors were validated (protodesc) when reflection returned them;
// reading them back, they are built as generated code builds its own
// (protoimpl.DescBuilder), without that validation, about 0.3 ms less in a
// fresh process (a cold gRPC call 0.97-0.98x). The body's hash guarantees
// they are the bytes written: a damaged file is refused, not half-built.
const reflectionCacheMagic = "plugctl-reflection-cache 2"

// maxReflectionCache bounds what is read of a reflection cache (a plugin's
// descriptors are kilobytes; a larger file is ignored and rewritten).
const maxReflectionCache = 16 << 20

// readReflectionCache loads the schema cached at path for the executable
// whose SHA-256 is sha, or returns nil when there is none, it was made for
// another executable, or it does not parse.
func readReflectionCache(path, sha string) *schema {
	b, err := store.ReadFileMax(path, maxReflectionCache)
	if err != nil {
		return nil
	}
	var head [4]string
	for i := range head {
		line, rest, ok := bytes.Cut(b, []byte{'\n'})
		if !ok {
			return nil
		}
		head[i], b = string(line), rest
	}
	got, ok := strings.CutPrefix(head[1], "sha256 ")
	if head[0] != reflectionCacheMagic || !ok || sha == "" || !strings.EqualFold(got, sha) {
		return nil
	}
	names, ok := strings.CutPrefix(head[2], "services")
	if !ok {
		return nil
	}
	body := sha256.Sum256(b)
	if head[3] != "body "+hex.EncodeToString(body[:]) {
		return nil
	}
	files, ok := buildCachedFiles(b)
	if !ok {
		return nil
	}
	listed := strings.Fields(names)
	if listed == nil {
		listed = []string{}
	}
	s, err := newSchema(files, listed, SchemaReflection)
	if err != nil {
		return nil
	}
	s.listed, s.cached = listed, true
	return s
}

// buildCachedFiles builds the files of a FileDescriptorSet's wire form
// (field 1, each a FileDescriptorProto) into a registry, as generated code
// does; false when it is not one, or a file does not build.
func buildCachedFiles(b []byte) (files *protoregistry.Files, ok bool) {
	files = new(protoregistry.Files)
	defer func() {
		if recover() != nil { // DescBuilder panics on what it cannot register
			files, ok = nil, false
		}
	}()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			return nil, false
		}
		raw, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return nil, false
		}
		b = b[n+m:]
		protoimpl.DescBuilder{RawDescriptor: raw, FileRegistry: files}.Build()
	}
	return files, true
}

// writeReflectionCache writes s, a schema from reflection, to path for
// the executable whose SHA-256 is sha: to a temporary file renamed into
// place, so readers see a whole file or none.
func writeReflectionCache(path, sha string, s *schema) error {
	if s.set == nil || sha == "" {
		return nil
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.set)
	if err != nil {
		return fmt.Errorf("reflection cache: %w", err)
	}
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nsha256 %s\nservices %s\nbody %x\n", reflectionCacheMagic, strings.ToLower(sha), strings.Join(s.listed, " "), sum)
	b.Write(body)
	// Not store.WriteFileAtomic: that makes the directory, and a version
	// removed meanwhile must not come back as a directory holding a cache.
	// Not synced either: a file torn by a crash fails to parse and is
	// rewritten.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("reflection cache: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("reflection cache: %w", err)
	}
	return nil
}

func (s *schema) has(service string) bool {
	for _, sd := range s.services {
		if string(sd.FullName()) == service {
			return true
		}
	}
	return false
}

// reflectSchema asks the plugin's reflection service for its services and
// the files that define them: two round trips (the list, then every file
// request at once on the same stream).
func reflectSchema(ctx context.Context, conn *grpc.ClientConn, extra string) (*schema, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, names, err := openReflection(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer rc.CloseSend()
	var load []string
	for _, n := range names {
		if !internalServices[n] || n == extra {
			load = append(load, n)
		}
	}
	fds := map[string]*descriptorpb.FileDescriptorProto{}
	reqs := make([]*rpb.ServerReflectionRequest, len(load))
	for i, n := range load {
		reqs[i] = &rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: n}}
	}
	if err := rc.batch(reqs, fds); err != nil {
		return nil, err
	}
	// Dependencies the server did not send (it sends each file once per
	// stream, and some servers send only the file asked for).
	for range 8 {
		var missing []*rpb.ServerReflectionRequest
		for _, fd := range fds {
			for _, dep := range fd.GetDependency() {
				if _, ok := fds[dep]; !ok {
					missing = append(missing, &rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileByFilename{FileByFilename: dep}})
				}
			}
		}
		if len(missing) == 0 {
			break
		}
		_ = rc.batch(missing, fds)
		for _, m := range missing {
			name := m.GetFileByFilename()
			if _, ok := fds[name]; ok {
				continue
			}
			// Well-known types the plugin left out: take ours.
			if d, err := protoregistry.GlobalFiles.FindFileByPath(name); err == nil {
				fds[name] = protodesc.ToFileDescriptorProto(d)
			} else {
				return nil, fmt.Errorf("reflection: the plugin did not send %s", name)
			}
		}
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, fd := range fds {
		set.File = append(set.File, fd)
	}
	sort.Slice(set.File, func(i, j int) bool { return set.File[i].GetName() < set.File[j].GetName() })
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("reflection: %w", err)
	}
	s, err := newSchema(files, names, SchemaReflection)
	if err != nil {
		return nil, err
	}
	s.set, s.listed = set, names
	return s, nil
}

type reflStream struct{ grpc.ClientStream }

// openReflection opens a reflection stream (v1, else v1alpha: the messages
// are the same on the wire) and lists the services.
func openReflection(ctx context.Context, conn *grpc.ClientConn) (*reflStream, []string, error) {
	var last error
	for _, m := range []string{
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	} {
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, m)
		if err != nil {
			return nil, nil, err
		}
		rs := &reflStream{cs}
		resp, err := rs.roundTrip(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"}})
		if isUnimplemented(err) {
			last = err
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		return rs, names, nil
	}
	return nil, nil, fmt.Errorf("%w (%v)", ErrNoReflection, last)
}

func (r *reflStream) roundTrip(req *rpb.ServerReflectionRequest) (*rpb.ServerReflectionResponse, error) {
	if err := r.SendMsg(req); err != nil {
		// The real error comes with RecvMsg.
		resp := new(rpb.ServerReflectionResponse)
		if rerr := r.RecvMsg(resp); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	resp := new(rpb.ServerReflectionResponse)
	if err := r.RecvMsg(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// batch sends every request, then reads every response, adding the files
// received to fds. A NOT_FOUND answer leaves that symbol out.
func (r *reflStream) batch(reqs []*rpb.ServerReflectionRequest, fds map[string]*descriptorpb.FileDescriptorProto) error {
	for _, q := range reqs {
		if err := r.SendMsg(q); err != nil {
			break // the error comes with RecvMsg
		}
	}
	for range reqs {
		resp := new(rpb.ServerReflectionResponse)
		if err := r.RecvMsg(resp); err != nil {
			return err
		}
		for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fd := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(b, fd); err != nil {
				return fmt.Errorf("reflection: bad file descriptor: %w", err)
			}
			fds[fd.GetName()] = fd
		}
	}
	return nil
}

// maxProtosetBytes bounds a protoset file: descriptors of every service a
// plugin offers, imports included, are a few hundred kilobytes at most.
const maxProtosetBytes = 64 << 20

// readProtoset loads a FileDescriptorSet file (protoc --descriptor_set_out
// --include_imports, buf build -o x.protoset), checking its hash when want
// is set.
func readProtoset(path, want string) (*schema, error) {
	b, err := regfile.ReadFile(path, maxProtosetBytes)
	if err != nil {
		return nil, fmt.Errorf("protoset: %w", err)
	}
	if want != "" {
		got, _ := verify.ReaderSHA256(bytes.NewReader(b))
		if !strings.EqualFold(got, want) {
			return nil, &verify.MismatchError{What: "protoset " + path, Want: want, Got: got}
		}
	}
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(b, set); err != nil {
		return nil, fmt.Errorf("protoset %s: %w", path, err)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("protoset %s: %w (was it written with --include_imports?)", path, err)
	}
	return newSchema(files, nil, SchemaProtoset)
}

// compileProtos compiles .proto files at run time. With no import paths,
// each file's own directory is one, as protoc's default "." would be for a
// file named by its base name.
func compileProtos(ctx context.Context, protoFiles, importPaths []string) (*schema, error) {
	paths := append([]string(nil), importPaths...)
	names := make([]string, len(protoFiles))
	for i, f := range protoFiles {
		names[i] = filepath.ToSlash(f)
		rel := ""
		for _, ip := range importPaths {
			if r, err := filepath.Rel(ip, f); err == nil && !strings.HasPrefix(r, "..") && !filepath.IsAbs(r) {
				rel = r
				break
			}
		}
		if rel != "" {
			names[i] = filepath.ToSlash(rel)
			continue
		}
		if _, err := os.Stat(f); err == nil {
			paths = append(paths, filepath.Dir(f))
			names[i] = filepath.Base(f)
		}
	}
	linked, err := compile(ctx, paths, names)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", strings.Join(protoFiles, ", "), err)
	}
	files := new(protoregistry.Files)
	var add func(fd protoreflect.FileDescriptor) error
	add = func(fd protoreflect.FileDescriptor) error {
		if _, err := files.FindFileByPath(fd.Path()); err == nil {
			return nil
		}
		for i := 0; i < fd.Imports().Len(); i++ {
			if err := add(fd.Imports().Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		return files.RegisterFile(fd)
	}
	for _, fd := range linked {
		if err := add(fd); err != nil {
			return nil, fmt.Errorf("compile: %w", err)
		}
	}
	// Only the services of the files named, not of their imports.
	var svcNames []string
	for _, fd := range linked {
		for i := 0; i < fd.Services().Len(); i++ {
			svcNames = append(svcNames, string(fd.Services().Get(i).FullName()))
		}
	}
	if svcNames == nil {
		svcNames = []string{}
	}
	return newSchema(files, svcNames, SchemaProto)
}
