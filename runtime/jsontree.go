package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// jnode is a JSON value that keeps its objects' key order, so that a
// document rewritten (readable bytes, defaults) prints its fields in the
// order protojson wrote them. Scalars stay as their JSON text: numbers are
// never rounded through float64.
type jnode struct {
	kind byte // '{', '[', or 0 for a scalar (raw holds it)
	keys []string
	vals []*jnode // object values, parallel to keys; array elements
	raw  json.RawMessage
}

func parseJSONTree(b []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := readJNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("JSON: data after the value")
	}
	return n, nil
}

func readJNode(dec *json.Decoder) (*jnode, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &jnode{kind: '{'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := readJNode(dec)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &jnode{kind: '['}
			for dec.More() {
				v, err := readJNode(dec)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		}
		return nil, fmt.Errorf("JSON: unexpected %v", t)
	default:
		b, err := json.Marshal(t)
		return &jnode{raw: b}, err
	}
}

func jscalar(v any) *jnode {
	b, _ := json.Marshal(v)
	return &jnode{raw: b}
}

func (n *jnode) isNull() bool   { return n.kind == 0 && string(n.raw) == "null" }
func (n *jnode) isString() bool { return n.kind == 0 && len(n.raw) > 0 && n.raw[0] == '"' }

// get returns the value of key in an object, or nil.
func (n *jnode) get(key string) *jnode {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *jnode) set(key string, v *jnode) {
	for i, k := range n.keys {
		if k == key {
			n.vals[i] = v
			return
		}
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, v)
}

func (n *jnode) bytes() []byte {
	var buf bytes.Buffer
	n.write(&buf)
	return buf.Bytes()
}

func (n *jnode) write(buf *bytes.Buffer) {
	switch n.kind {
	case '{':
		buf.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			n.vals[i].write(buf)
		}
		buf.WriteByte('}')
	case '[':
		buf.WriteByte('[')
		for i, v := range n.vals {
			if i > 0 {
				buf.WriteByte(',')
			}
			v.write(buf)
		}
		buf.WriteByte(']')
	default:
		buf.Write(n.raw)
	}
}

// mergeUnder fills into n (an object) what def has and n lacks, object by
// object: n's values win.
func mergeUnder(n, def *jnode) {
	if n.kind != '{' || def.kind != '{' {
		return
	}
	for i, k := range def.keys {
		have := n.get(k)
		switch {
		case have == nil:
			n.set(k, def.vals[i])
		case have.kind == '{':
			mergeUnder(have, def.vals[i])
		}
	}
}
