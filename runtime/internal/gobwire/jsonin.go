package gobwire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ErrArg is wrapped by every error about a JSON argument that cannot be
// turned into gob.
var ErrArg = errors.New("cannot encode argument")

// maxArrayLen bounds [N]T in type strings, so "[1000000000]int" cannot
// make FromJSON allocate a huge zero array.
const maxArrayLen = 1 << 20

type jnode struct {
	kind byte // 'n' null, 'b' bool, '#' number, 's' string, '[' array, '{' object
	b    bool
	s    string // number text or string
	arr  []*jnode
	keys []string
	vals []*jnode
}

func (n *jnode) get(key string) *jnode {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// explicit reports whether n is a {"$gob": ...} form.
func (n *jnode) explicit() bool { return n.kind == '{' && n.get("$gob") != nil }

// empty reports whether n is null, [] or {}: a struct field with such a
// value is left out, so the receiver keeps its zero value whatever its type.
func (n *jnode) empty() bool {
	return n.kind == 'n' || (n.kind == '[' && len(n.arr) == 0) || (n.kind == '{' && len(n.keys) == 0)
}

func parseJSON(data []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := parseNode(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return n, nil
}

func parseNode(dec *json.Decoder, depth int) (*jnode, error) {
	if depth > 1000 {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &jnode{kind: 'n'}, nil
	case bool:
		return &jnode{kind: 'b', b: t}, nil
	case json.Number:
		return &jnode{kind: '#', s: string(t)}, nil
	case string:
		return &jnode{kind: 's', s: t}, nil
	case json.Delim:
		switch t {
		case '[':
			n := &jnode{kind: '['}
			for dec.More() {
				e, err := parseNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, e)
			}
			_, err := dec.Token()
			return n, err
		case '{':
			n := &jnode{kind: '{'}
			index := map[string]int{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := parseNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if i, ok := index[k]; ok { // last one wins, as encoding/json
					n.vals[i] = v
					continue
				}
				index[k] = len(n.keys)
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// FromJSON turns a JSON argument into a gob value by the rules in the
// package documentation. Empty input and null give a nil interface{}.
func FromJSON(data []byte) (Value, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return NilInterface(), nil
	}
	n, err := parseJSON(data)
	if err != nil {
		return Value{}, fmt.Errorf("%w: invalid JSON: %v", ErrArg, err)
	}
	t, err := inferType(n)
	if err != nil {
		return Value{}, fmt.Errorf("%w: %v", ErrArg, err)
	}
	v, err := convert(n, mergeStructs(concrete(t)), "")
	if err != nil {
		return Value{}, fmt.Errorf("%w: %v", ErrArg, err)
	}
	return v, nil
}

// Inference placeholders: null and [] fit any type when arrays are unified.
var (
	nullType     = &Type{Kind: Interface, Name: "interface {}"}
	emptySlice   = &Type{Kind: Slice, Elem: InterfaceType}
	uint64Type   = basicByName["uint64"]
	interfaceArr = &Type{Kind: Slice, Elem: InterfaceType}
)

func inferType(n *jnode) (*Type, error) {
	switch n.kind {
	case 'n':
		return nullType, nil
	case 'b':
		return BoolType, nil
	case 's':
		return StringType, nil
	case '#':
		if isIntLiteral(n.s) {
			if _, err := strconv.ParseInt(n.s, 10, 64); err == nil {
				return IntType, nil
			}
			if _, err := strconv.ParseUint(n.s, 10, 64); err == nil {
				return uint64Type, nil
			}
		}
		return FloatType, nil
	case '[':
		if len(n.arr) == 0 {
			return emptySlice, nil
		}
		var elem *Type
		for _, e := range n.arr {
			et, err := inferType(e)
			if err != nil {
				return nil, err
			}
			if elem == nil {
				elem = et
				continue
			}
			if elem = unify(elem, et); elem == nil {
				return interfaceArr, nil
			}
		}
		return &Type{Kind: Slice, Elem: concrete(elem)}, nil
	case '{':
		if g := n.get("$gob"); g != nil {
			if g.kind != 's' {
				return nil, errors.New(`"$gob" must be a type string such as "[]byte" or "map[string]interface{}"`)
			}
			for _, k := range n.keys {
				if k != "$gob" && k != "value" && k != "name" {
					return nil, fmt.Errorf(`unknown key %q next to "$gob" (allowed: "value", "name")`, k)
				}
			}
			return ParseType(g.s)
		}
		t := &Type{Kind: Struct}
		for i, k := range n.keys {
			if n.vals[i].empty() {
				continue
			}
			if !isExported(k) {
				return nil, fmt.Errorf("object key %q is not an exported Go field name; use {\"$gob\": \"map[string]...\", \"value\": {...}} for a map", k)
			}
			ft, err := inferType(n.vals[i])
			if err != nil {
				return nil, err
			}
			t.Fields = append(t.Fields, Field{Name: k, Type: concrete(ft)})
		}
		return t, nil
	}
	return nil, fmt.Errorf("bad JSON node")
}

func isExported(name string) bool {
	return name != "" && name[0] >= 'A' && name[0] <= 'Z'
}

func concrete(t *Type) *Type {
	switch t {
	case nullType:
		return InterfaceType
	case emptySlice:
		return interfaceArr
	}
	return t
}

func isIntLiteral(s string) bool { return !strings.ContainsAny(s, ".eE") }

// unify returns the type both a and b values fit, or nil.
func unify(a, b *Type) *Type {
	switch {
	case a == nullType:
		return b
	case b == nullType:
		return a
	case a == emptySlice && b.Kind == Slice:
		return b
	case b == emptySlice && a.Kind == Slice:
		return a
	case a.String() == b.String():
		return a
	}
	num := func(t *Type) bool { return t == IntType || t == FloatType || t == uint64Type }
	if num(a) && num(b) {
		return FloatType
	}
	if a.Kind == Slice && b.Kind == Slice && a.Elem.Kind != Interface && b.Elem.Kind != Interface {
		if e := unify(a.Elem, b.Elem); e != nil {
			return &Type{Kind: Slice, Elem: e}
		}
		return nil
	}
	if a.Kind == Struct && b.Kind == Struct && a.Name == "" && b.Name == "" {
		u := &Type{Kind: Struct, Fields: append([]Field(nil), a.Fields...)}
	next:
		for _, bf := range b.Fields {
			for i, uf := range u.Fields {
				if uf.Name == bf.Name {
					ft := unify(uf.Type, bf.Type)
					if ft == nil {
						return nil
					}
					u.Fields[i].Type = ft
					continue next
				}
			}
			u.Fields = append(u.Fields, bf)
		}
		return u
	}
	return nil
}

// defaultName is the name encoding/gob's Register gives a type: what a
// receiver's interface{} expects unless the sender says otherwise.
func defaultName(t *Type) (string, error) {
	switch t.Kind {
	case Struct, GobEncoder, BinaryMarshaler, TextMarshaler:
		if t.Name == "" {
			return "", fmt.Errorf(`a struct inside interface{} needs the name the plugin registered it under: {"$gob": "interface{}", "name": "main.Person", "value": {...}}`)
		}
		return t.Name, nil
	case Interface:
		return "", errors.New("interface{} cannot hold interface{} directly")
	}
	return t.String(), nil
}

func convert(n *jnode, t *Type, path string) (Value, error) {
	at := func() string {
		if path == "" {
			return ""
		}
		return " at " + path
	}
	if n.explicit() {
		et, err := ParseType(n.get("$gob").s)
		if err != nil {
			return Value{}, err
		}
		val := n.get("value")
		if val == nil {
			val = &jnode{kind: 'n'}
		}
		var name string
		if nm := n.get("name"); nm != nil {
			if nm.kind != 's' {
				return Value{}, fmt.Errorf(`"name"%s must be a string`, at())
			}
			name = nm.s
		}
		if et.Kind == Interface {
			if val.kind == 'n' {
				return Value{Type: InterfaceType, Nil: true}, nil
			}
			it, err := inferType(val)
			if err != nil {
				return Value{}, err
			}
			it = concrete(it)
			if it.Kind == Interface {
				return Value{}, fmt.Errorf("interface{}%s needs a concrete value", at())
			}
			return wrap(val, it, name, path)
		}
		if t.Kind == Interface {
			return wrap(val, et, name, path)
		}
		if name != "" {
			return Value{}, fmt.Errorf(`"name"%s is only for interface{} values`, at())
		}
		if et.String() != t.String() {
			return Value{}, fmt.Errorf("%s given%s where %s is expected", et, at(), t)
		}
		return convert(val, et, path)
	}
	if t.Kind == Interface {
		if n.kind == 'n' {
			return Value{Type: t, Nil: true}, nil
		}
		it, err := inferType(n)
		if err != nil {
			return Value{}, err
		}
		return wrap(n, concrete(it), "", path)
	}
	if n.kind == 'n' {
		return zeroFor(t), nil
	}
	v := Value{Type: t}
	mismatch := func() (Value, error) {
		return Value{}, fmt.Errorf("JSON %s%s does not fit %s", kindName(n), at(), t)
	}
	switch t.Kind {
	case Bool:
		if n.kind != 'b' {
			return mismatch()
		}
		v.Bool = n.b
	case Int:
		if n.kind != '#' {
			return mismatch()
		}
		i, err := parseInt(n.s, t.bits)
		if err != nil {
			return Value{}, fmt.Errorf("%v%s", err, at())
		}
		v.Int = i
	case Uint:
		if n.kind != '#' {
			return mismatch()
		}
		u, err := parseUint(n.s, t.bits)
		if err != nil {
			return Value{}, fmt.Errorf("%v%s", err, at())
		}
		v.Uint = u
	case Float:
		if n.kind != '#' {
			return mismatch()
		}
		f, err := parseFloat(n.s, t.bits)
		if err != nil {
			return Value{}, fmt.Errorf("%v%s", err, at())
		}
		v.Float = f
	case Complex:
		var re, im *jnode
		switch {
		case n.kind == '{':
			re, im = n.get("real"), n.get("imag")
		case n.kind == '[' && len(n.arr) == 2:
			re, im = n.arr[0], n.arr[1]
		}
		if re == nil || im == nil || re.kind != '#' || im.kind != '#' {
			return Value{}, fmt.Errorf(`complex%s must be {"real": x, "imag": y}`, at())
		}
		var err error
		if v.Float, err = parseFloat(re.s, t.bits/2); err != nil {
			return Value{}, err
		}
		if v.Imag, err = parseFloat(im.s, t.bits/2); err != nil {
			return Value{}, err
		}
	case String:
		if n.kind != 's' {
			return mismatch()
		}
		v.Str = n.s
	case Bytes, GobEncoder, BinaryMarshaler, TextMarshaler:
		b, err := bytesOf(n, t.Kind == TextMarshaler)
		if err != nil {
			return Value{}, fmt.Errorf("%v%s", err, at())
		}
		v.Bytes = b
	case Slice, Array:
		if t.Kind == Array && t.Elem.Kind == Uint && t.Elem.bits == 8 && n.kind == 's' {
			b, err := bytesOf(n, false)
			if err != nil {
				return Value{}, err
			}
			if len(b) != t.Len {
				return Value{}, fmt.Errorf("%d bytes%s for %s", len(b), at(), t)
			}
			for _, c := range b {
				v.Elems = append(v.Elems, Value{Type: t.Elem, Uint: uint64(c)})
			}
			return v, nil
		}
		if n.kind != '[' {
			return mismatch()
		}
		if t.Kind == Array && len(n.arr) != t.Len {
			return Value{}, fmt.Errorf("%d elements%s for %s", len(n.arr), at(), t)
		}
		v.Elems = make([]Value, len(n.arr))
		for i, e := range n.arr {
			var err error
			if v.Elems[i], err = convert(e, t.Elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return Value{}, err
			}
		}
	case Map:
		switch n.kind {
		case '{':
			for i, k := range n.keys {
				kv, err := mapKey(k, t.Key)
				if err != nil {
					return Value{}, fmt.Errorf("%v%s", err, at())
				}
				ev, err := convert(n.vals[i], t.Elem, path+"."+k)
				if err != nil {
					return Value{}, err
				}
				v.Keys = append(v.Keys, kv)
				v.Elems = append(v.Elems, ev)
			}
		case '[': // [{"key": k, "value": v}, ...], as ToJSON writes other keys
			for i, e := range n.arr {
				p := path + "[" + strconv.Itoa(i) + "]"
				if e.kind != '{' || e.get("key") == nil {
					return Value{}, fmt.Errorf(`map entry%s must be {"key": k, "value": v}`, at())
				}
				kv, err := convert(e.get("key"), t.Key, p+".key")
				if err != nil {
					return Value{}, err
				}
				val := e.get("value")
				if val == nil {
					val = &jnode{kind: 'n'}
				}
				ev, err := convert(val, t.Elem, p+".value")
				if err != nil {
					return Value{}, err
				}
				v.Keys = append(v.Keys, kv)
				v.Elems = append(v.Elems, ev)
			}
		default:
			return mismatch()
		}
	case Struct:
		if n.kind != '{' {
			return mismatch()
		}
		v.Elems = make([]Value, len(t.Fields))
		for i, f := range t.Fields {
			fn := n.get(f.Name)
			if fn == nil || fn.kind == 'n' {
				v.Elems[i] = zero(f.Type)
				continue
			}
			var err error
			if v.Elems[i], err = convert(fn, f.Type, path+"."+f.Name); err != nil {
				return Value{}, err
			}
		}
		for i, k := range n.keys {
			if !n.vals[i].empty() && !hasField(t, k) {
				return Value{}, fmt.Errorf("field %q%s is not in %s", k, at(), t)
			}
		}
	default:
		return Value{}, fmt.Errorf("cannot build %s from JSON", t)
	}
	return v, nil
}

func hasField(t *Type, name string) bool {
	for _, f := range t.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

func wrap(n *jnode, t *Type, name, path string) (Value, error) {
	if name == "" {
		var err error
		if name, err = defaultName(t); err != nil {
			return Value{}, err
		}
	}
	inner, err := convert(n, t, path)
	if err != nil {
		return Value{}, err
	}
	if inner.Nil {
		inner = zeroFor(t)
	}
	return Value{Type: InterfaceType, Str: name, Elems: []Value{inner}}, nil
}

// zeroFor is the zero value of t as an element (where gob sends
// everything): empty composites rather than nil ones.
func zeroFor(t *Type) Value {
	v := Value{Type: t}
	switch t.Kind {
	case Interface:
		v.Nil = true
	case Array:
		v.Elems = make([]Value, t.Len)
		for i := range v.Elems {
			v.Elems[i] = zeroFor(t.Elem)
		}
	case Struct:
		v.Elems = make([]Value, len(t.Fields))
		for i, f := range t.Fields {
			v.Elems[i] = zero(f.Type)
		}
	}
	return v
}

func kindName(n *jnode) string {
	switch n.kind {
	case 'b':
		return "boolean"
	case '#':
		return "number " + n.s
	case 's':
		return "string"
	case '[':
		return "array"
	case '{':
		return "object"
	}
	return "null"
}

func bytesOf(n *jnode, text bool) ([]byte, error) {
	switch n.kind {
	case 's':
		if text {
			return []byte(n.s), nil
		}
		b, err := base64.StdEncoding.DecodeString(n.s)
		if err != nil {
			return nil, fmt.Errorf("bytes must be base64 (as encoding/json writes []byte): %v", err)
		}
		return b, nil
	case '[':
		b := make([]byte, len(n.arr))
		for i, e := range n.arr {
			if e.kind != '#' {
				return nil, errors.New("bytes must be base64 or an array of numbers 0-255")
			}
			u, err := parseUint(e.s, 8)
			if err != nil {
				return nil, err
			}
			b[i] = byte(u)
		}
		return b, nil
	}
	return nil, errors.New("bytes must be a base64 string")
}

func mapKey(k string, t *Type) (Value, error) {
	v := Value{Type: t}
	var err error
	switch t.Kind {
	case String:
		v.Str = k
	case Int:
		v.Int, err = parseInt(k, t.bits)
	case Uint:
		v.Uint, err = parseUint(k, t.bits)
	case Float:
		v.Float, err = parseFloat(k, t.bits)
	case Bool:
		v.Bool, err = strconv.ParseBool(k)
	default:
		return Value{}, fmt.Errorf(`map keys of type %s go in the array form [{"key": k, "value": v}]`, t)
	}
	if err != nil {
		return Value{}, fmt.Errorf("map key %q does not fit %s", k, t)
	}
	return v, nil
}

func bitsOr64(b int) int {
	if b == 0 {
		return 64
	}
	return b
}

func parseInt(s string, bits int) (int64, error) {
	i, err := strconv.ParseInt(s, 10, bitsOr64(bits))
	if err == nil {
		return i, nil
	}
	f, ferr := strconv.ParseFloat(s, 64)
	lim := math.Ldexp(1, bitsOr64(bits)-1)
	if ferr == nil && f == math.Trunc(f) && f >= -lim && f < lim {
		return int64(f), nil
	}
	return 0, fmt.Errorf("%s is not an int%d", s, bitsOr64(bits))
}

func parseUint(s string, bits int) (uint64, error) {
	u, err := strconv.ParseUint(s, 10, bitsOr64(bits))
	if err == nil {
		return u, nil
	}
	f, ferr := strconv.ParseFloat(s, 64)
	if ferr == nil && f == math.Trunc(f) && f >= 0 && f < math.Ldexp(1, bitsOr64(bits)) {
		return uint64(f), nil
	}
	return 0, fmt.Errorf("%s is not a uint%d", s, bitsOr64(bits))
}

func parseFloat(s string, bits int) (float64, error) {
	f, err := strconv.ParseFloat(s, bitsOr64(bits))
	if err != nil {
		return 0, fmt.Errorf("%s is not a float%d", s, bitsOr64(bits))
	}
	return f, nil
}

// ParseType parses a type string of the grammar in the package
// documentation: basic Go types, []T, [N]T, map[K]V, interface{} (or
// any) and struct{}.
func ParseType(s string) (*Type, error) {
	t, err := parseType(strings.TrimSpace(s), 0)
	if err != nil {
		return nil, fmt.Errorf("type %q: %v", s, err)
	}
	return t, nil
}

func arraySize(t *Type) int {
	if t.Kind == Array {
		return t.Len * max(arraySize(t.Elem), 1)
	}
	return 1
}

func parseType(s string, depth int) (*Type, error) {
	if depth > 100 {
		return nil, errors.New("nested too deeply")
	}
	if t, ok := basicByName[s]; ok {
		return t, nil
	}
	switch {
	case s == "struct{}" || s == "struct {}":
		return &Type{Kind: Struct}, nil
	case strings.HasPrefix(s, "[]"):
		elem, err := parseType(strings.TrimSpace(s[2:]), depth+1)
		if err != nil {
			return nil, err
		}
		return &Type{Kind: Slice, Elem: elem}, nil
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return nil, errors.New("missing ]")
		}
		n, err := strconv.Atoi(strings.TrimSpace(s[1:end]))
		if err != nil || n < 0 || n > maxArrayLen {
			return nil, fmt.Errorf("bad array length %q", s[1:end])
		}
		elem, err := parseType(strings.TrimSpace(s[end+1:]), depth+1)
		if err != nil {
			return nil, err
		}
		if size := n * max(arraySize(elem), 1); size > maxArrayLen {
			return nil, fmt.Errorf("arrays of more than %d elements in all are not supported", maxArrayLen)
		}
		return &Type{Kind: Array, Len: n, Elem: elem}, nil
	case strings.HasPrefix(s, "map["):
		level := 0
		for i := 3; i < len(s); i++ {
			switch s[i] {
			case '[':
				level++
			case ']':
				level--
				if level == 0 {
					key, err := parseType(strings.TrimSpace(s[4:i]), depth+1)
					if err != nil {
						return nil, err
					}
					elem, err := parseType(strings.TrimSpace(s[i+1:]), depth+1)
					if err != nil {
						return nil, err
					}
					return &Type{Kind: Map, Key: key, Elem: elem}, nil
				}
			}
		}
		return nil, errors.New("missing ] after map key")
	}
	return nil, errors.New(`unknown type (want bool, int, int8..int64, uint, uint8..uint64, float32, float64, complex64, complex128, string, []byte, []T, [N]T, map[K]V, interface{}, struct{})`)
}
