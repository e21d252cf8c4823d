package gobwire

import (
	"strconv"
	"strings"
)

// Kind is the gob wire kind of a Type.
type Kind uint8

// The wire kinds. Int, Uint, Float and Complex cover every Go size: gob
// sends int8..int64 as Int, uint8..uint64 (except inside []byte) as Uint.
const (
	Invalid Kind = iota
	Bool
	Int
	Uint
	Float
	Complex
	String
	Bytes
	Interface
	Slice
	Array
	Map
	Struct
	GobEncoder      // a GobEncoder value: opaque bytes
	BinaryMarshaler // an encoding.BinaryMarshaler value: opaque bytes
	TextMarshaler   // an encoding.TextMarshaler value: text bytes
)

// Predefined gob type ids (encoding/gob type.go).
const (
	idBool      = 1
	idInt       = 2
	idUint      = 3
	idFloat     = 4
	idBytes     = 5
	idString    = 6
	idComplex   = 7
	idInterface = 8
	firstUserID = 64
)

// Type is a gob type: a wire kind plus what a Go receiver needs to match it.
type Type struct {
	Kind Kind
	// Name is the Go name for basic kinds ("int8", "float32"), the type
	// name a struct or GobEncoder was sent with, or empty.
	Name   string
	Elem   *Type // Slice, Array, Map
	Key    *Type // Map
	Len    int   // Array
	Fields []Field
	bits   int // Int, Uint, Float, Complex: size in bits for range checks, 0 = 64
}

// Field is one struct field.
type Field struct {
	Name string
	Type *Type
}

// The basic types. Their Name is the Go type gob registers them under.
var (
	BoolType      = &Type{Kind: Bool, Name: "bool"}
	IntType       = &Type{Kind: Int, Name: "int"}
	UintType      = &Type{Kind: Uint, Name: "uint"}
	FloatType     = &Type{Kind: Float, Name: "float64"}
	ComplexType   = &Type{Kind: Complex, Name: "complex128"}
	StringType    = &Type{Kind: String, Name: "string"}
	BytesType     = &Type{Kind: Bytes, Name: "[]uint8"}
	InterfaceType = &Type{Kind: Interface, Name: "interface {}"}
)

var basicByName = map[string]*Type{
	"bool":         BoolType,
	"int":          IntType,
	"int8":         {Kind: Int, Name: "int8", bits: 8},
	"int16":        {Kind: Int, Name: "int16", bits: 16},
	"int32":        {Kind: Int, Name: "int32", bits: 32},
	"rune":         {Kind: Int, Name: "int32", bits: 32},
	"int64":        {Kind: Int, Name: "int64"},
	"uint":         UintType,
	"uint8":        {Kind: Uint, Name: "uint8", bits: 8},
	"byte":         {Kind: Uint, Name: "uint8", bits: 8},
	"uint16":       {Kind: Uint, Name: "uint16", bits: 16},
	"uint32":       {Kind: Uint, Name: "uint32", bits: 32},
	"uint64":       {Kind: Uint, Name: "uint64"},
	"uintptr":      {Kind: Uint, Name: "uintptr"},
	"float32":      {Kind: Float, Name: "float32", bits: 32},
	"float64":      FloatType,
	"complex64":    {Kind: Complex, Name: "complex64", bits: 64},
	"complex128":   ComplexType,
	"string":       StringType,
	"[]byte":       BytesType,
	"[]uint8":      BytesType,
	"interface{}":  InterfaceType,
	"interface {}": InterfaceType,
	"any":          InterfaceType,
}

// String returns the type in Go syntax ("[]string", "map[string]interface {}",
// "struct { Name string; Age int }"), the form gob registers names in.
func (t *Type) String() string {
	var b strings.Builder
	t.write(&b, map[*Type]bool{})
	return b.String()
}

// key identifies t's structure (names of structs and encoders included)
// for the per-stream table of sent type definitions.
func (t *Type) key() string {
	var b strings.Builder
	t.writeKey(&b, map[*Type]int{})
	return b.String()
}

func (t *Type) writeKey(b *strings.Builder, seen map[*Type]int) {
	if n, ok := seen[t]; ok {
		b.WriteString("@" + strconv.Itoa(n))
		return
	}
	seen[t] = len(seen)
	b.WriteString(strconv.Itoa(int(t.Kind)) + strconv.Quote(t.Name))
	if t.Kind == Array {
		b.WriteString(strconv.Itoa(t.Len))
	}
	if t.Key != nil {
		b.WriteString("k")
		t.Key.writeKey(b, seen)
	}
	if t.Elem != nil {
		b.WriteString("e")
		t.Elem.writeKey(b, seen)
	}
	if t.Kind == Struct {
		b.WriteString("{")
		for _, f := range t.Fields {
			b.WriteString(strconv.Quote(f.Name))
			f.Type.writeKey(b, seen)
			b.WriteString(";")
		}
		b.WriteString("}")
	}
}

func (t *Type) write(b *strings.Builder, seen map[*Type]bool) {
	if t == nil {
		b.WriteString("<nil>")
		return
	}
	switch t.Kind {
	case Slice, Array, Map:
		if seen[t] { // type T []T is legal Go, and gob sends it
			b.WriteString("...")
			return
		}
		seen[t] = true
		defer delete(seen, t)
	}
	switch t.Kind {
	case Slice:
		b.WriteString("[]")
		t.Elem.write(b, seen)
	case Array:
		b.WriteString("[" + strconv.Itoa(t.Len) + "]")
		t.Elem.write(b, seen)
	case Map:
		b.WriteString("map[")
		t.Key.write(b, seen)
		b.WriteString("]")
		t.Elem.write(b, seen)
	case Struct:
		if t.Name != "" {
			b.WriteString(t.Name)
			return
		}
		if seen[t] {
			b.WriteString("struct {...}")
			return
		}
		seen[t] = true
		b.WriteString("struct {")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString(";")
			}
			b.WriteString(" " + f.Name + " ")
			f.Type.write(b, seen)
		}
		if len(t.Fields) > 0 {
			b.WriteString(" ")
		}
		b.WriteString("}")
		delete(seen, t)
	case GobEncoder, BinaryMarshaler, TextMarshaler:
		if t.Name != "" {
			b.WriteString(t.Name)
		} else {
			b.WriteString("encoded")
		}
	default:
		b.WriteString(t.Name)
	}
}

// Value is a generic gob value. Which fields are set depends on Type.Kind:
// Bool: Bool; Int: Int; Uint: Uint; Float: Float; Complex: Float (real)
// and Imag; String: Str; Bytes, GobEncoder, BinaryMarshaler, TextMarshaler:
// Bytes; Slice, Array: Elems; Map: Keys and Elems; Struct: Elems, one per
// Type.Fields entry; Interface: Str (the registered name) and Elems[0]
// (the concrete value). Nil marks a nil interface, or a slice, map, bytes
// or pointer field that gob did not send.
type Value struct {
	Type  *Type
	Nil   bool
	Bool  bool
	Int   int64
	Uint  uint64
	Float float64
	Imag  float64
	Str   string
	Bytes []byte
	Elems []Value
	Keys  []Value
}

// Field returns the struct field called name.
func (v Value) Field(name string) (Value, bool) {
	if v.Type == nil || v.Type.Kind != Struct || v.Nil {
		return Value{}, false
	}
	for i, f := range v.Type.Fields {
		if f.Name == name && i < len(v.Elems) {
			return v.Elems[i], true
		}
	}
	return Value{}, false
}

// StringValue, UintValue and BoolValue build basic values.
func StringValue(s string) Value { return Value{Type: StringType, Str: s} }

// UintValue returns a uint value.
func UintValue(u uint64) Value { return Value{Type: UintType, Uint: u} }

// BoolValue returns a bool value.
func BoolValue(b bool) Value { return Value{Type: BoolType, Bool: b} }

// NilInterface returns a nil interface{} value: what net/rpc sends for
// new(interface{}).
func NilInterface() Value { return Value{Type: InterfaceType, Nil: true} }
