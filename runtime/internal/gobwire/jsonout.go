package gobwire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// ToJSON renders a value as JSON by the rules in the package documentation.
func ToJSON(v Value) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, v Value) error {
	if v.Type == nil || v.Nil {
		b.WriteString("null")
		return nil
	}
	switch v.Type.Kind {
	case Bool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case Int:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case Uint:
		b.WriteString(strconv.FormatUint(v.Uint, 10))
	case Float:
		writeFloat(b, v.Float)
	case Complex:
		b.WriteString(`{"real":`)
		writeFloat(b, v.Float)
		b.WriteString(`,"imag":`)
		writeFloat(b, v.Imag)
		b.WriteString("}")
	case String:
		writeString(b, v.Str)
	case TextMarshaler:
		writeString(b, string(v.Bytes))
	case Bytes, GobEncoder, BinaryMarshaler:
		b.WriteByte('"')
		b.WriteString(base64.StdEncoding.EncodeToString(v.Bytes))
		b.WriteByte('"')
	case Interface:
		if len(v.Elems) == 0 {
			b.WriteString("null")
			return nil
		}
		return writeJSON(b, v.Elems[0])
	case Slice, Array:
		b.WriteByte('[')
		for i, e := range v.Elems {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case Map:
		return writeMap(b, v)
	case Struct:
		b.WriteByte('{')
		for i, f := range v.Type.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, f.Name)
			b.WriteByte(':')
			if i < len(v.Elems) {
				if err := writeJSON(b, v.Elems[i]); err != nil {
					return err
				}
			} else {
				b.WriteString("null")
			}
		}
		b.WriteByte('}')
	default:
		b.WriteString("null")
	}
	return nil
}

func writeFloat(b *bytes.Buffer, f float64) {
	switch {
	case math.IsNaN(f):
		b.WriteString(`"NaN"`)
	case math.IsInf(f, 1):
		b.WriteString(`"+Inf"`)
	case math.IsInf(f, -1):
		b.WriteString(`"-Inf"`)
	default:
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	}
}

func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}

// writeMap writes string and integer keyed maps as objects with sorted
// keys, like encoding/json, and any other map as a sorted array of
// {"key": k, "value": v} objects. Duplicate keys (possible only in
// hand-made gob) keep the last value.
func writeMap(b *bytes.Buffer, v Value) error {
	type entry struct {
		key string // JSON object key, or the key's JSON for pair form
		val Value
	}
	kk := v.Type.Key.Kind
	object := kk == String || kk == Int || kk == Uint
	index := map[string]int{}
	var entries []entry
	for i, k := range v.Keys {
		var key string
		switch {
		case kk == String:
			key = k.Str
		case kk == Int:
			key = strconv.FormatInt(k.Int, 10)
		case kk == Uint:
			key = strconv.FormatUint(k.Uint, 10)
		default:
			kj, err := ToJSON(k)
			if err != nil {
				return err
			}
			key = string(kj)
		}
		if j, ok := index[key]; ok {
			entries[j].val = v.Elems[i]
			continue
		}
		index[key] = len(entries)
		entries = append(entries, entry{key, v.Elems[i]})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	if object {
		b.WriteByte('{')
	} else {
		b.WriteByte('[')
	}
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		if object {
			writeString(b, e.key)
			b.WriteByte(':')
		} else {
			b.WriteString(`{"key":`)
			b.WriteString(e.key)
			b.WriteString(`,"value":`)
		}
		if err := writeJSON(b, e.val); err != nil {
			return err
		}
		if !object {
			b.WriteByte('}')
		}
	}
	if object {
		b.WriteByte('}')
	} else {
		b.WriteByte(']')
	}
	return nil
}
