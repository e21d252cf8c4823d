package gobwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
)

// DefaultMaxMessage bounds one gob message (encoding/gob allows 1 GiB).
const DefaultMaxMessage = 64 << 20

const (
	maxDepth    = 10000   // nesting of values and types
	maxValues   = 1 << 24 // values built by one Decode
	maxNameLen  = 1024    // interface type names, as encoding/gob
	readChunk   = 1 << 20 // message bodies are read in chunks so a lying count cannot allocate
	maxTypeDefs = 1 << 16
)

// ErrCorrupt is wrapped by every error about malformed gob data.
var ErrCorrupt = errors.New("gob: corrupt data")

type wireType struct {
	kind   Kind
	name   string
	elem   int
	key    int
	len    int
	fields []wireField
}

type wireField struct {
	name string
	id   int
}

// Decoder reads a gob stream written by one encoding/gob Encoder (or by
// this package's Encoder). It remembers type definitions across values,
// as the stream requires.
type Decoder struct {
	r        *bufio.Reader
	msg      []byte
	wire     map[int]*wireType
	resolved map[int]*Type
	values   int
	// MaxMessage bounds the size of one message; DefaultMaxMessage if 0.
	MaxMessage int
}

// NewDecoder returns a decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &Decoder{r: br, wire: map[int]*wireType{}, resolved: map[int]*Type{}}
}

type decodeError struct{ err error }

func (d *Decoder) fail(format string, args ...any) {
	panic(decodeError{fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)})
}

// Decode reads the next value, with the type definitions before it. It
// returns io.EOF only when the stream ends cleanly before a value.
func (d *Decoder) Decode() (v Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			de, ok := r.(decodeError)
			if !ok {
				panic(r)
			}
			err = de.err
			d.msg = nil
		}
	}()
	d.msg = nil
	d.values = 0
	id := d.typeSequence(false)
	return d.top(d.typeOf(id, 0), 0), nil
}

// DecodeJSON reads the next value and returns it as JSON.
func (d *Decoder) DecodeJSON() ([]byte, error) {
	v, err := d.Decode()
	if err != nil {
		return nil, err
	}
	return ToJSON(v)
}

func (d *Decoder) recvMessage() error {
	n, err := readUintReader(d.r)
	if err != nil {
		return err
	}
	limit := d.MaxMessage
	if limit <= 0 {
		limit = DefaultMaxMessage
	}
	if n >= uint64(limit) {
		return fmt.Errorf("%w: message of %d bytes exceeds the limit of %d", ErrCorrupt, n, limit)
	}
	buf := make([]byte, 0, min(int(n), readChunk))
	for len(buf) < int(n) {
		chunk := min(int(n)-len(buf), readChunk)
		buf = append(buf, make([]byte, chunk)...)
		if _, err := io.ReadFull(d.r, buf[len(buf)-chunk:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	d.msg = buf
	return nil
}

func readUintReader(r *bufio.Reader) (uint64, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	if b <= 0x7f {
		return uint64(b), nil
	}
	n := -int(int8(b))
	if n > 8 {
		return 0, fmt.Errorf("%w: uint of %d bytes", ErrCorrupt, n)
	}
	var x uint64
	for range n {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		x = x<<8 | uint64(c)
	}
	return x, nil
}

// typeSequence mirrors encoding/gob's decodeTypeSequence.
func (d *Decoder) typeSequence(isInterface bool) int {
	first := true
	for {
		if len(d.msg) == 0 {
			if err := d.recvMessage(); err != nil {
				if !first && err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				panic(decodeError{err})
			}
		}
		id := d.readInt()
		if id >= 0 {
			if id > math.MaxInt32 {
				d.fail("type id %d out of range", id)
			}
			return int(id)
		}
		if id < -math.MaxInt32 {
			d.fail("type id %d out of range", id)
		}
		d.recvType(int(-id))
		if len(d.msg) > 0 {
			if !isInterface {
				d.fail("extra data after type definition")
			}
			d.readUint()
		}
		first = false
	}
}

func (d *Decoder) readUint() uint64 {
	if len(d.msg) == 0 {
		panic(decodeError{fmt.Errorf("%w: %w", ErrCorrupt, io.ErrUnexpectedEOF)})
	}
	b := d.msg[0]
	d.msg = d.msg[1:]
	if b <= 0x7f {
		return uint64(b)
	}
	n := -int(int8(b))
	if n > 8 || n > len(d.msg) {
		d.fail("bad uint encoding")
	}
	var x uint64
	for _, c := range d.msg[:n] {
		x = x<<8 | uint64(c)
	}
	d.msg = d.msg[n:]
	return x
}

func (d *Decoder) readInt() int64 {
	x := d.readUint()
	if x&1 != 0 {
		return ^int64(x >> 1)
	}
	return int64(x >> 1)
}

func (d *Decoder) readLen(what string) int {
	n := d.readUint()
	if n > uint64(len(d.msg)) {
		d.fail("%s length %d exceeds the %d bytes left", what, n, len(d.msg))
	}
	return int(n)
}

func (d *Decoder) readBytes() []byte {
	n := d.readLen("byte slice")
	b := make([]byte, n)
	copy(b, d.msg)
	d.msg = d.msg[n:]
	return b
}

func (d *Decoder) readString() string {
	n := d.readLen("string")
	s := string(d.msg[:n])
	d.msg = d.msg[n:]
	return s
}

func (d *Decoder) readTypeID() int {
	id := d.readInt()
	if id < 0 || id > math.MaxInt32 {
		d.fail("type id %d out of range", id)
	}
	return int(id)
}

// structFields calls fn for each field number of a struct encoding.
func (d *Decoder) structFields(fn func(field int)) {
	field := -1
	for len(d.msg) > 0 {
		delta := d.readUint()
		if delta == 0 {
			return
		}
		if delta > math.MaxInt32 || field+int(delta) > math.MaxInt32 {
			d.fail("field delta %d out of range", delta)
		}
		field += int(delta)
		fn(field)
	}
}

func (d *Decoder) recvType(id int) {
	if id < firstUserID || d.wire[id] != nil {
		d.fail("duplicate type received")
	}
	if len(d.wire) >= maxTypeDefs {
		d.fail("too many type definitions")
	}
	w := &wireType{}
	common := func(field int) {
		switch field {
		case 0:
			w.name = d.readString()
		case 1:
			d.readInt()
		default:
			d.fail("bad CommonType field %d", field)
		}
	}
	// typeFields decodes one of gob's type structs (arrayType, sliceType,
	// ...): field 0 is its CommonType, field i > 0 goes to fields[i-1], and
	// any other field is an error naming the struct.
	typeFields := func(what string, fields ...func()) {
		d.structFields(func(f int) {
			switch {
			case f == 0:
				d.structFields(common)
			case f <= len(fields):
				fields[f-1]()
			default:
				d.fail("bad %s field %d", what, f)
			}
		})
	}
	elem := func() { w.elem = d.readTypeID() }
	d.structFields(func(f int) {
		switch f {
		case 0: // ArrayT
			w.kind = Array
			typeFields("arrayType", elem, func() {
				n := d.readInt()
				if n < 0 || n > math.MaxInt32 {
					d.fail("array length %d out of range", n)
				}
				w.len = int(n)
			})
		case 1: // SliceT
			w.kind = Slice
			typeFields("sliceType", elem)
		case 2: // StructT
			w.kind = Struct
			typeFields("structType", func() {
				n := d.readLen("field list")
				w.fields = make([]wireField, 0, min(n, 64))
				for range n {
					var wf wireField
					d.structFields(func(f int) {
						switch f {
						case 0:
							wf.name = d.readString()
						case 1:
							wf.id = d.readTypeID()
						default:
							d.fail("bad fieldType field %d", f)
						}
					})
					w.fields = append(w.fields, wf)
				}
			})
		case 3: // MapT
			w.kind = Map
			typeFields("mapType", func() { w.key = d.readTypeID() }, elem)
		case 4, 5, 6:
			w.kind = [...]Kind{GobEncoder, BinaryMarshaler, TextMarshaler}[f-4]
			typeFields("gobEncoderType")
		default:
			d.fail("bad wireType field %d", f)
		}
	})
	if w.kind == Invalid {
		d.fail("empty type definition for id %d", id)
	}
	d.wire[id] = w
}

func (d *Decoder) typeOf(id, depth int) *Type {
	switch id {
	case idBool:
		return BoolType
	case idInt:
		return IntType
	case idUint:
		return UintType
	case idFloat:
		return FloatType
	case idBytes:
		return BytesType
	case idString:
		return StringType
	case idComplex:
		return ComplexType
	case idInterface:
		return InterfaceType
	}
	if t, ok := d.resolved[id]; ok {
		return t
	}
	w, ok := d.wire[id]
	if !ok {
		d.fail("unknown type id %d", id)
	}
	if depth > maxDepth {
		d.fail("types nested too deeply")
	}
	t := &Type{Kind: w.kind, Name: w.name, Len: w.len}
	d.resolved[id] = t // before the parts: types may be recursive
	switch w.kind {
	case Slice, Array:
		t.Name = ""
		t.Elem = d.typeOf(w.elem, depth+1)
	case Map:
		t.Name = ""
		t.Key = d.typeOf(w.key, depth+1)
		t.Elem = d.typeOf(w.elem, depth+1)
	case Struct:
		t.Fields = make([]Field, len(w.fields))
		for i, f := range w.fields {
			t.Fields[i] = Field{Name: f.name, Type: d.typeOf(f.id, depth+1)}
		}
	}
	return t
}

func (d *Decoder) count() {
	d.values++
	if d.values > maxValues {
		d.fail("more than %d values in one message", maxValues)
	}
}

// top decodes a value as encoding/gob's decodeValue does: structs
// directly, everything else as a singleton (a zero field delta first).
func (d *Decoder) top(t *Type, depth int) Value {
	if t.Kind == Struct {
		return d.value(t, depth)
	}
	if d.readUint() != 0 {
		d.fail("non-zero delta for singleton")
	}
	return d.value(t, depth)
}

func (d *Decoder) value(t *Type, depth int) Value {
	if depth > maxDepth {
		d.fail("values nested too deeply")
	}
	d.count()
	v := Value{Type: t}
	switch t.Kind {
	case Bool:
		v.Bool = d.readUint() != 0
	case Int:
		v.Int = d.readInt()
	case Uint:
		v.Uint = d.readUint()
	case Float:
		v.Float = readFloat(d.readUint())
	case Complex:
		v.Float = readFloat(d.readUint())
		v.Imag = readFloat(d.readUint())
	case String:
		v.Str = d.readString()
	case Bytes, GobEncoder, BinaryMarshaler, TextMarshaler:
		v.Bytes = d.readBytes()
	case Interface:
		name := d.readLen("interface name")
		if name == 0 {
			v.Nil = true
			return v
		}
		if name > maxNameLen {
			d.fail("interface type name of %d bytes", name)
		}
		v.Str = string(d.msg[:name])
		d.msg = d.msg[name:]
		id := d.typeSequence(true)
		d.readUint() // byte count of the value, not needed
		v.Elems = []Value{d.top(d.typeOf(id, 0), depth+1)}
	case Slice:
		n := d.readLen("slice")
		v.Elems = make([]Value, 0, min(n, 1024))
		for range n {
			v.Elems = append(v.Elems, d.value(t.Elem, depth+1))
		}
	case Array:
		n := d.readLen("array")
		if n != t.Len {
			d.fail("array length %d, type says %d", n, t.Len)
		}
		v.Elems = make([]Value, 0, min(n, 1024))
		for range n {
			v.Elems = append(v.Elems, d.value(t.Elem, depth+1))
		}
	case Map:
		n := d.readLen("map")
		v.Keys = make([]Value, 0, min(n, 1024))
		v.Elems = make([]Value, 0, min(n, 1024))
		for range n {
			v.Keys = append(v.Keys, d.value(t.Key, depth+1))
			v.Elems = append(v.Elems, d.value(t.Elem, depth+1))
		}
	case Struct:
		v.Elems = make([]Value, len(t.Fields))
		set := make([]bool, len(t.Fields))
		d.structFields(func(f int) {
			if f >= len(t.Fields) {
				d.fail("field %d of a struct with %d fields", f, len(t.Fields))
			}
			v.Elems[f] = d.value(t.Fields[f].Type, depth+1)
			set[f] = true
		})
		for i, f := range t.Fields {
			if !set[i] {
				v.Elems[i] = zero(f.Type)
			}
		}
	default:
		d.fail("value of unknown kind %d", t.Kind)
	}
	return v
}

func readFloat(u uint64) float64 { return math.Float64frombits(bits.ReverseBytes64(u)) }

// zero is the value of a struct field gob did not send. gob omits zero
// numbers, false, empty strings, empty slices and maps, nil interfaces and
// nil pointers; it always sends non-nil structs and arrays, so an absent
// struct or array field was a nil pointer.
func zero(t *Type) Value {
	switch t.Kind {
	case Bool, Int, Uint, Float, Complex, String:
		return Value{Type: t}
	}
	return Value{Type: t, Nil: true}
}

func (k Kind) String() string {
	names := [...]string{"invalid", "bool", "int", "uint", "float", "complex", "string", "bytes", "interface", "slice", "array", "map", "struct", "GobEncoder", "BinaryMarshaler", "TextMarshaler"}
	if int(k) < len(names) {
		return names[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}
