package runtime

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// msgpackToJSON decodes one msgpack value (the whole of b) into JSON, as
// Terraform's tftypes package writes a DynamicValue: objects and maps as
// maps, lists, sets and tuples as arrays, a dynamic attribute as the array
// [type, value] (the type is JSON in a bin), an unknown value as an
// extension, printed {"$unknown": true}. A number that a float64 cannot
// hold exactly is printed as a string, so that reading it back never
// changes it; a bin that holds JSON is that JSON, other bins are base64.
// Only for reading: the JSON does not say which was a set or a map.
func msgpackToJSON(b []byte) (*jnode, error) {
	d := &mpDecoder{b: b}
	n, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.i != len(b) {
		return nil, fmt.Errorf("msgpack: %d bytes after the value", len(b)-d.i)
	}
	return n, nil
}

// mpMaxDepth bounds nesting, so that a hostile value cannot exhaust the
// stack.
const mpMaxDepth = 200

var errMsgpackShort = errors.New("msgpack: value cut short")

type mpDecoder struct {
	b []byte
	i int
}

func (d *mpDecoder) take(n int) ([]byte, error) {
	if n < 0 || d.i+n > len(d.b) || d.i+n < d.i {
		return nil, errMsgpackShort
	}
	s := d.b[d.i : d.i+n]
	d.i += n
	return s, nil
}

func (d *mpDecoder) uint(size int) (uint64, error) {
	s, err := d.take(size)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(s[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(s)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(s)), nil
	}
	return binary.BigEndian.Uint64(s), nil
}

func (d *mpDecoder) value(depth int) (*jnode, error) {
	if depth > mpMaxDepth {
		return nil, fmt.Errorf("msgpack: nested deeper than %d", mpMaxDepth)
	}
	s, err := d.take(1)
	if err != nil {
		return nil, err
	}
	c := s[0]
	switch {
	case c <= 0x7f:
		return &jnode{raw: []byte(strconv.Itoa(int(c)))}, nil
	case c >= 0xe0:
		return &jnode{raw: []byte(strconv.Itoa(int(int8(c))))}, nil
	case c&0xf0 == 0x80:
		return d.mapOf(int(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return d.arrayOf(int(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return d.str(int(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return &jnode{raw: []byte("null")}, nil
	case 0xc2:
		return &jnode{raw: []byte("false")}, nil
	case 0xc3:
		return &jnode{raw: []byte("true")}, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		b, err := d.take(int(n))
		if err != nil {
			return nil, err
		}
		return bytesNode(b), nil
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32
		n, err := d.uint(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		if _, err := d.take(int(n) + 1); err != nil {
			return nil, err
		}
		return unknownNode(), nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1..16
		if _, err := d.take(1 + 1<<(c-0xd4)); err != nil {
			return nil, err
		}
		return unknownNode(), nil
	case 0xca:
		u, err := d.uint(4)
		if err != nil {
			return nil, err
		}
		return floatNode(float64(math.Float32frombits(uint32(u)))), nil
	case 0xcb:
		u, err := d.uint(8)
		if err != nil {
			return nil, err
		}
		return floatNode(math.Float64frombits(u)), nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		return uintNode(u), nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		u, err := d.uint(size)
		if err != nil {
			return nil, err
		}
		shift := 64 - 8*size
		return intNode(int64(u<<shift) >> shift), nil
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.str(int(n))
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayOf(int(n), depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapOf(int(n), depth)
	}
	return nil, fmt.Errorf("msgpack: byte 0x%02x at %d starts no value", c, d.i-1)
}

func (d *mpDecoder) str(n int) (*jnode, error) {
	b, err := d.take(n)
	if err != nil {
		return nil, err
	}
	return jscalar(string(b)), nil
}

func (d *mpDecoder) arrayOf(n int, depth int) (*jnode, error) {
	if n > len(d.b)-d.i { // each element takes a byte at least
		return nil, errMsgpackShort
	}
	a := &jnode{kind: '[', vals: make([]*jnode, 0, n)}
	for range n {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a.vals = append(a.vals, v)
	}
	return a, nil
}

func (d *mpDecoder) mapOf(n int, depth int) (*jnode, error) {
	if 2*n > len(d.b)-d.i {
		return nil, errMsgpackShort
	}
	m := &jnode{kind: '{'}
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		key := string(k.bytes())
		if k.isString() {
			_ = json.Unmarshal(k.raw, &key)
		}
		m.set(key, v)
	}
	return m, nil
}

func unknownNode() *jnode {
	return &jnode{kind: '{', keys: []string{"$unknown"}, vals: []*jnode{{raw: []byte("true")}}}
}

// bytesNode is b as JSON when it holds a JSON document, else base64.
func bytesNode(b []byte) *jnode {
	if n := jsonBytesNode(b); n != nil {
		return n
	}
	return jscalar(base64.StdEncoding.EncodeToString(b))
}

// maxExactInt is the largest integer below which every integer is a
// float64 exactly.
const maxExactInt = 1 << 53

func intNode(v int64) *jnode {
	if v > maxExactInt || v < -maxExactInt {
		return jscalar(strconv.FormatInt(v, 10))
	}
	return &jnode{raw: []byte(strconv.FormatInt(v, 10))}
}

func uintNode(v uint64) *jnode {
	if v > maxExactInt {
		return jscalar(strconv.FormatUint(v, 10))
	}
	return &jnode{raw: []byte(strconv.FormatUint(v, 10))}
}

func floatNode(f float64) *jnode {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return jscalar(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return &jnode{raw: []byte(strconv.FormatFloat(f, 'g', -1, 64))}
}
