package gobwire

import (
	"fmt"
	"io"
	"math"
	"math/bits"
)

// Encoder writes values as a gob stream that encoding/gob (and net/rpc's
// gob codec) reads. Like encoding/gob it sends each type definition once
// per stream; unlike it, all definitions a value needs (those of interface
// contents included) go out as separate messages before the value.
type Encoder struct {
	w      io.Writer
	sent   map[string]int // Type.String() → id
	nextID int
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w, sent: map[string]int{}, nextID: firstUserID}
}

// Encode writes v (type definitions first) in one Write call.
func (e *Encoder) Encode(v Value) error {
	if v.Type == nil {
		return fmt.Errorf("gobwire: value without a type")
	}
	var out []byte
	sentBefore, next := len(e.sent), e.nextID
	id, err := e.define(v.Type, &out)
	if err == nil {
		err = e.defineContents(v, &out)
	}
	var body []byte
	if err == nil {
		body = appendInt(nil, int64(id))
		body, err = e.top(body, v)
		if err == nil && v.Type.Kind == Interface && (v.Nil || len(v.Elems) == 0) {
			body = append(body, nilInterfacePad...)
		}
	}
	if err != nil {
		if len(e.sent) != sentBefore {
			e.forget(next)
		}
		return err
	}
	out = appendMessage(out, body)
	if _, err := e.w.Write(out); err != nil {
		e.forget(next) // the peer may not have seen the definitions
		return err
	}
	return nil
}

// EncodeJSON converts a JSON argument with FromJSON and encodes it.
func (e *Encoder) EncodeJSON(data []byte) error {
	v, err := FromJSON(data)
	if err != nil {
		return err
	}
	return e.Encode(v)
}

func (e *Encoder) forget(from int) {
	for k, id := range e.sent {
		if id >= from {
			delete(e.sent, k)
		}
	}
	e.nextID = from
}

// nilInterfacePad follows a top-level nil interface value in its message.
// encoding/gob's ignoreInterface (used when a receiver discards a value,
// as net/rpc does with the argument of an unknown method) does not handle
// a nil interface: after the empty name it reads a type id and a byte
// count, and with nothing left in the message it waits for the next
// message, hanging the call (go1.26 decode.go). The pad is that type id
// (interface) and a zero count, so the ignore path consumes exactly the
// pad; a receiver that does decode the nil interface stops after the name
// and drops the rest of the message, as every gob decoder does.
var nilInterfacePad = []byte{idInterface << 1, 0}

func appendMessage(out, msg []byte) []byte {
	out = appendUint(out, uint64(len(msg)))
	return append(out, msg...)
}

func builtinID(t *Type) int {
	switch t.Kind {
	case Bool:
		return idBool
	case Int:
		return idInt
	case Uint:
		return idUint
	case Float:
		return idFloat
	case Complex:
		return idComplex
	case String:
		return idString
	case Bytes:
		return idBytes
	case Interface:
		return idInterface
	}
	return 0
}

// define returns t's id, appending definition messages for it and its
// parts to out if this stream has not had them yet.
func (e *Encoder) define(t *Type, out *[]byte) (int, error) {
	if id := builtinID(t); id != 0 {
		return id, nil
	}
	key := t.key()
	if id, ok := e.sent[key]; ok {
		return id, nil
	}
	id := e.nextID
	e.nextID++
	e.sent[key] = id
	name := t.String()
	if t.Name != "" {
		name = t.Name
	}
	var w []byte
	common := func(w []byte) []byte {
		w = appendUint(w, 1) // CommonType
		w = appendUint(w, 1) // Name
		w = appendString(w, name)
		w = appendUint(w, 1) // Id
		w = appendInt(w, int64(id))
		return appendUint(w, 0)
	}
	switch t.Kind {
	case Slice, Array:
		elem, err := e.define(t.Elem, out)
		if err != nil {
			return 0, err
		}
		if t.Kind == Slice {
			w = appendUint(w, 2) // SliceT
		} else {
			w = appendUint(w, 1) // ArrayT
		}
		w = common(w)
		w = appendUint(w, 1)
		w = appendInt(w, int64(elem))
		if t.Kind == Array {
			w = appendUint(w, 1)
			w = appendInt(w, int64(t.Len))
		}
		w = appendUint(w, 0)
	case Map:
		key, err := e.define(t.Key, out)
		if err != nil {
			return 0, err
		}
		elem, err := e.define(t.Elem, out)
		if err != nil {
			return 0, err
		}
		w = appendUint(w, 4) // MapT
		w = common(w)
		w = appendUint(w, 1)
		w = appendInt(w, int64(key))
		w = appendUint(w, 1)
		w = appendInt(w, int64(elem))
		w = appendUint(w, 0)
	case Struct:
		ids := make([]int, len(t.Fields))
		for i, f := range t.Fields {
			fid, err := e.define(f.Type, out)
			if err != nil {
				return 0, err
			}
			ids[i] = fid
		}
		w = appendUint(w, 3) // StructT
		w = common(w)
		if len(t.Fields) > 0 {
			w = appendUint(w, 1)
			w = appendUint(w, uint64(len(t.Fields)))
			for i, f := range t.Fields {
				w = appendUint(w, 1)
				w = appendString(w, f.Name)
				w = appendUint(w, 1)
				w = appendInt(w, int64(ids[i]))
				w = appendUint(w, 0)
			}
		}
		w = appendUint(w, 0)
	case GobEncoder, BinaryMarshaler, TextMarshaler:
		w = appendUint(w, uint64(5+t.Kind-GobEncoder))
		w = common(w)
	default:
		return 0, fmt.Errorf("gobwire: cannot define type of kind %s", t.Kind)
	}
	w = appendUint(w, 0) // end of wireType
	*out = appendMessage(*out, append(appendInt(nil, -int64(id)), w...))
	return id, nil
}

// defineContents defines the concrete types held in interface values.
func (e *Encoder) defineContents(v Value, out *[]byte) error {
	if v.Nil || v.Type == nil {
		return nil
	}
	switch v.Type.Kind {
	case Interface:
		if len(v.Elems) != 1 {
			return nil
		}
		if _, err := e.define(v.Elems[0].Type, out); err != nil {
			return err
		}
		return e.defineContents(v.Elems[0], out)
	case Slice, Array, Map, Struct:
		if !mayHoldInterface(v.Type, map[*Type]bool{}) {
			return nil
		}
		for _, x := range v.Keys {
			if err := e.defineContents(x, out); err != nil {
				return err
			}
		}
		for _, x := range v.Elems {
			if err := e.defineContents(x, out); err != nil {
				return err
			}
		}
	}
	return nil
}

func mayHoldInterface(t *Type, seen map[*Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind {
	case Interface:
		return true
	case Slice, Array:
		return mayHoldInterface(t.Elem, seen)
	case Map:
		return mayHoldInterface(t.Key, seen) || mayHoldInterface(t.Elem, seen)
	case Struct:
		for _, f := range t.Fields {
			if mayHoldInterface(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// top encodes as encoding/gob's Encode does: structs directly, anything
// else as a singleton behind a zero field delta.
func (e *Encoder) top(b []byte, v Value) ([]byte, error) {
	if v.Type.Kind != Struct {
		b = appendUint(b, 0)
	}
	return e.value(b, v)
}

func (e *Encoder) value(b []byte, v Value) ([]byte, error) {
	t := v.Type
	if t == nil {
		return nil, fmt.Errorf("gobwire: value without a type")
	}
	if v.Nil && t.Kind != Interface {
		return nil, fmt.Errorf("gobwire: cannot encode a nil %s outside a struct field", t)
	}
	switch t.Kind {
	case Bool:
		if v.Bool {
			b = appendUint(b, 1)
		} else {
			b = appendUint(b, 0)
		}
	case Int:
		b = appendInt(b, v.Int)
	case Uint:
		b = appendUint(b, v.Uint)
	case Float:
		b = appendFloat(b, v.Float)
	case Complex:
		b = appendFloat(b, v.Float)
		b = appendFloat(b, v.Imag)
	case String:
		b = appendString(b, v.Str)
	case Bytes, GobEncoder, BinaryMarshaler, TextMarshaler:
		b = appendUint(b, uint64(len(v.Bytes)))
		b = append(b, v.Bytes...)
	case Interface:
		if v.Nil || len(v.Elems) == 0 {
			return appendUint(b, 0), nil
		}
		if v.Str == "" {
			return nil, fmt.Errorf("gobwire: interface value of type %s needs a registered name", v.Elems[0].Type)
		}
		b = appendString(b, v.Str)
		id, ok := e.sent[v.Elems[0].Type.key()]
		if bid := builtinID(v.Elems[0].Type); bid != 0 {
			id, ok = bid, true
		}
		if !ok {
			return nil, fmt.Errorf("gobwire: type %s not defined", v.Elems[0].Type)
		}
		b = appendInt(b, int64(id))
		inner, err := e.top(nil, v.Elems[0])
		if err != nil {
			return nil, err
		}
		b = appendUint(b, uint64(len(inner)))
		b = append(b, inner...)
	case Slice, Array:
		if t.Kind == Array && len(v.Elems) != t.Len {
			return nil, fmt.Errorf("gobwire: %d elements for %s", len(v.Elems), t)
		}
		b = appendUint(b, uint64(len(v.Elems)))
		for _, x := range v.Elems {
			var err error
			if b, err = e.value(b, x); err != nil {
				return nil, err
			}
		}
	case Map:
		if len(v.Keys) != len(v.Elems) {
			return nil, fmt.Errorf("gobwire: map with %d keys and %d values", len(v.Keys), len(v.Elems))
		}
		b = appendUint(b, uint64(len(v.Keys)))
		for i := range v.Keys {
			var err error
			if b, err = e.value(b, v.Keys[i]); err != nil {
				return nil, err
			}
			if b, err = e.value(b, v.Elems[i]); err != nil {
				return nil, err
			}
		}
	case Struct:
		last := -1
		for i, x := range v.Elems {
			if i >= len(t.Fields) {
				return nil, fmt.Errorf("gobwire: %d values for %s", len(v.Elems), t)
			}
			if isZero(x) {
				continue // as encoding/gob does
			}
			b = appendUint(b, uint64(i-last))
			last = i
			var err error
			if b, err = e.value(b, x); err != nil {
				return nil, err
			}
		}
		b = appendUint(b, 0)
	default:
		return nil, fmt.Errorf("gobwire: cannot encode kind %s", t.Kind)
	}
	return b, nil
}

func isZero(v Value) bool {
	if v.Nil {
		return true
	}
	switch v.Type.Kind {
	case Bool:
		return !v.Bool
	case Int:
		return v.Int == 0
	case Uint:
		return v.Uint == 0
	case Float:
		return v.Float == 0 && !math.Signbit(v.Float)
	case Complex:
		return v.Float == 0 && v.Imag == 0 && !math.Signbit(v.Float) && !math.Signbit(v.Imag)
	case String:
		return v.Str == ""
	case Bytes, Slice, Map:
		return len(v.Bytes) == 0 && len(v.Elems) == 0
	}
	return false
}

func appendUint(b []byte, x uint64) []byte {
	if x <= 0x7f {
		return append(b, byte(x))
	}
	n := (bits.Len64(x) + 7) / 8
	b = append(b, byte(-n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(x>>(8*i)))
	}
	return b
}

func appendInt(b []byte, i int64) []byte {
	var x uint64
	if i < 0 {
		x = uint64(^i<<1) | 1
	} else {
		x = uint64(i << 1)
	}
	return appendUint(b, x)
}

func appendFloat(b []byte, f float64) []byte {
	return appendUint(b, bits.ReverseBytes64(math.Float64bits(f)))
}

func appendString(b []byte, s string) []byte {
	b = appendUint(b, uint64(len(s)))
	return append(b, s...)
}
