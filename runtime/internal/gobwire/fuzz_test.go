package gobwire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must neither panic
// nor hang, must write valid JSON for what it decodes, and what it decodes
// must survive a trip through the encoder unchanged.
func FuzzDecode(f *testing.F) {
	// testdata/fuzz/FuzzDecode holds the checked-in corpus; see
	// TestWriteSeedCorpus.
	for _, v := range seedValues() {
		f.Add(stdEncode(f, v))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		d.MaxMessage = 1 << 20
		var vals []Value
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
			vals = append(vals, v)
		}
		// Hand-made gob may send what encoding/gob omits (an empty map
		// field, say), so the first trip may normalise; the second must
		// change nothing.
		gen2, ok := reencode(t, vals)
		if !ok {
			return // e.g. an interface value with an empty type name
		}
		gen3, ok := reencode(t, gen2)
		if !ok {
			t.Fatal("re-encoding a re-encoded value failed")
		}
		for i := range gen2 {
			j2, _ := ToJSON(gen2[i])
			j3, _ := ToJSON(gen3[i])
			if !bytes.Equal(j2, j3) {
				t.Fatalf("value %d: round trip changed %s into %s", i, j2, j3)
			}
		}
	})
}

// reencode writes vals on one stream with Encoder and reads them back.
func reencode(t *testing.T, vals []Value) ([]Value, bool) {
	var b bytes.Buffer
	enc := NewEncoder(&b)
	for _, v := range vals {
		if err := enc.Encode(v); err != nil {
			return nil, false
		}
	}
	d := NewDecoder(&b)
	out := make([]Value, len(vals))
	for i := range vals {
		var err error
		if out[i], err = d.Decode(); err != nil {
			t.Fatalf("value %d: decoding what the encoder wrote: %v", i, err)
		}
	}
	return out, true
}

func seedValues() []any {
	return []any{
		true, -7, uint64(1 << 40), 2.5, complex(1, 2), "s", []byte("b"),
		[]string{"a"}, [2]int{1, 2}, map[string]int{"a": 1}, map[int]bool{1: true},
		Person{Name: "a", Tags: []string{"t"}, Meta: map[string]string{"k": "v"}},
		Outer{ID: 1, List: []Inner{{1, 2}}, Any: []interface{}{"x", 1}},
		&Node{Val: 1, Next: &Node{Val: 2}}, new(any), Tree{Name: "r", Children: []Tree{{Name: "c"}}},
		map[string]interface{}{"key": "k", "value": []byte("v")},
		HasBin{B: binOnly{1}, W: time.Unix(1e9, 0).UTC()},
		map[Inner]string{{1, 2}: "x"},
	}
}

// TestWriteSeedCorpus rewrites testdata/fuzz/FuzzDecode from seedValues
// when GOBWIRE_WRITE_CORPUS=1 (each file one gob stream, some holding
// several values so that type reuse across messages is covered).
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("GOBWIRE_WRITE_CORPUS") != "1" {
		t.Skip("set GOBWIRE_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	vals := seedValues()
	streams := [][]byte{stdEncode(t, vals[11], vals[11], "x", vals[12])}
	for _, v := range vals {
		streams = append(streams, stdEncode(t, v))
	}
	for i, s := range streams {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
