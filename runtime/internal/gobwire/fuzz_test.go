package gobwire

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must neither panic
// nor hang, must write valid JSON for what it decodes, and what it decodes
// must survive a trip through the encoder unchanged.
func FuzzDecode(f *testing.F) {
	for _, v := range []any{
		true, -7, uint64(1 << 40), 2.5, complex(1, 2), "s", []byte("b"),
		[]string{"a"}, [2]int{1, 2}, map[string]int{"a": 1}, map[int]bool{1: true},
		Person{Name: "a", Tags: []string{"t"}, Meta: map[string]string{"k": "v"}},
		Outer{ID: 1, List: []Inner{{1, 2}}, Any: []interface{}{"x", 1}},
		&Node{Val: 1, Next: &Node{Val: 2}}, new(any),
		map[string]interface{}{"key": "k", "value": []byte("v")},
	} {
		f.Add(stdEncode(f, v))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		d.MaxMessage = 1 << 20
		var re bytes.Buffer
		enc := NewEncoder(&re)
		var jsons [][]byte
		for range 16 {
			v, err := d.Decode()
			if err != nil {
				break
			}
			j, err := ToJSON(v)
			if err != nil {
				t.Fatalf("ToJSON: %v", err)
			}
			if !json.Valid(j) {
				t.Fatalf("invalid JSON %s", j)
			}
			if err := enc.Encode(v); err != nil {
				return // e.g. an interface value with an empty type name
			}
			jsons = append(jsons, j)
		}
		d2 := NewDecoder(&re)
		for i, want := range jsons {
			got, err := d2.DecodeJSON()
			if err != nil {
				t.Fatalf("value %d: re-decoding: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("value %d: round trip changed %s into %s", i, want, got)
			}
		}
	})
}

// FuzzFromJSON feeds arbitrary JSON to the encoder and checks that what it
// encodes decodes again.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{
		`null`, `"hi"`, `[1,2.5]`, `{"A":[{"B":1},{"C":"x"}]}`, `[1,"a",null]`,
		`{"$gob":"map[string]interface{}","value":{"key":"k","value":{"$gob":"[]byte","value":"aGk="}}}`,
		`{"$gob":"[2]uint8","value":[1,2]}`, `{"$gob":"interface{}","value":{"$gob":"int8","value":3}}`,
		`{"$gob":"map[bool]int","value":[{"key":true,"value":3}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := FromJSON(data)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := NewEncoder(&b).Encode(v); err != nil {
			return
		}
		if _, err := NewDecoder(&b).DecodeJSON(); err != nil {
			t.Fatalf("%s: decoding what the encoder wrote: %v", data, err)
		}
	})
}

// BenchmarkRequestResponse encodes a typical call argument and decodes a
// typical reply, each on a fresh stream as a one-shot CLI call does.
func BenchmarkRequestResponse(b *testing.B) {
	arg := []byte(`{"Name":"Ann","Age":30,"Tags":["a","b"],"Meta":{"$gob":"map[string]string","value":{"k":"v"}}}`)
	reply := stdEncode(b, Person{Name: "Ann", Age: 30, Tags: []string{"a", "b"}, Meta: map[string]string{"k": "v"}})
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := NewEncoder(&buf).EncodeJSON(arg); err != nil {
			b.Fatal(err)
		}
		if _, err := NewDecoder(bytes.NewReader(reply)).DecodeJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStream is the same on one long-lived stream (type definitions
// sent once), as a warm session makes repeated calls.
func BenchmarkStream(b *testing.B) {
	arg := []byte(`{"Name":"Ann","Age":30,"Tags":["a","b"]}`)
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	dec := NewDecoder(&buf)
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.EncodeJSON(arg); err != nil {
			b.Fatal(err)
		}
		if _, err := dec.DecodeJSON(); err != nil {
			b.Fatal(err)
		}
	}
}
