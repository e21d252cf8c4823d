package gobwire

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

type Person struct {
	Name string
	Age  int
	Tags []string
	Meta map[string]string
}

type Inner struct {
	X, Y float64
}

type Outer struct {
	ID   uint64
	In   Inner
	Ptr  *Inner
	List []Inner
	Arr  [2]int8
	Any  interface{}
	Flag bool
	//lint:ignore U1000 an unexported field, which gob does not send
	hidden int
}

type Node struct {
	Val  int
	Next *Node
}

// Tree is recursive through a slice.
type Tree struct {
	Name     string
	Children []Tree
}

type binOnly struct{ n int }

func (b binOnly) MarshalBinary() ([]byte, error) { return []byte{byte(b.n), 0xff}, nil }
func (b *binOnly) UnmarshalBinary(p []byte) error {
	b.n = int(p[0])
	return nil
}

// HasBin holds a BinaryMarshaler and a GobEncoder. encoding/gob never
// uses TextMarshaler (its support is commented out in type.go).
type HasBin struct {
	B binOnly
	W time.Time
}

// TestMain registers the types the tests send as interface values, as a
// program using encoding/gob would before it encodes any.
func TestMain(m *testing.M) {
	gob.Register(Person{})
	gob.Register(map[string]interface{}{})
	gob.Register([]interface{}{})
	os.Exit(m.Run())
}

func stdEncode(t testing.TB, vs ...any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := gob.NewEncoder(&b)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			t.Fatalf("encoding/gob: %v", err)
		}
	}
	return b.Bytes()
}

func TestDecodeFromStdlib(t *testing.T) {
	when := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	whenBin, _ := when.GobEncode()
	iface := func(v any) *any { return &v }
	list := &Node{Val: 1, Next: &Node{Val: 2}}
	tests := []struct {
		name string
		in   any
		want string // "" means: what encoding/json writes for in
	}{
		{"bool", true, ""},
		{"false", false, ""},
		{"int", -42, ""},
		{"int8", int8(-128), ""},
		{"int64 max", int64(math.MaxInt64), ""},
		{"uint", uint(7), ""},
		{"uint64 max", uint64(math.MaxUint64), ""},
		{"uint8", uint8(200), ""},
		{"float64", 3.25, ""},
		{"float32", float32(1.5), ""},
		{"nan", math.NaN(), `"NaN"`},
		{"inf", math.Inf(-1), `"-Inf"`},
		{"complex", complex(1.5, -2), `{"real":1.5,"imag":-2}`},
		{"complex64", complex64(complex(0, 1)), `{"real":0,"imag":1}`},
		{"string", "héllo <&>", `"héllo <&>"`},
		{"empty string", "", ""},
		{"bytes", []byte("hi"), ""},
		{"empty bytes", []byte{}, `""`},
		{"slice", []string{"a", "b"}, ""},
		{"slice of slices", [][]int{{1}, {2, 3}}, ""},
		{"array", [3]int{1, 2, 3}, ""},
		{"byte array", [2]byte{1, 2}, `[1,2]`},
		{"map string", map[string]int{"b": 2, "a": 1}, ""},
		{"map int keys", map[int]string{10: "x", 2: "y"}, ""},
		{"map bool keys", map[bool]int{true: 1}, `[{"key":true,"value":1}]`},
		{"map struct keys", map[Inner]int{{1, 2}: 3}, `[{"key":{"X":1,"Y":2},"value":3}]`},
		{"struct", Person{Name: "Ann", Age: 30, Tags: []string{"x"}, Meta: map[string]string{"k": "v"}}, ""},
		{"struct zero fields", Person{Name: "Bob"}, `{"Name":"Bob","Age":0,"Tags":null,"Meta":null}`},
		{"nested", Outer{ID: 1, In: Inner{1, 2}, List: []Inner{{3, 4}}, Arr: [2]int8{-1, 1}, Any: "s", Flag: true},
			`{"ID":1,"In":{"X":1,"Y":2},"Ptr":null,"List":[{"X":3,"Y":4}],"Arr":[-1,1],"Any":"s","Flag":true}`},
		{"nested pointer", Outer{Ptr: &Inner{X: 1}},
			`{"ID":0,"In":{"X":0,"Y":0},"Ptr":{"X":1,"Y":0},"List":null,"Arr":[0,0],"Any":null,"Flag":false}`},
		{"pointer top", &Inner{X: 5}, `{"X":5,"Y":0}`},
		{"nil interface", new(any), `null`},
		{"interface string", iface("hi"), `"hi"`},
		{"interface struct", iface(Person{Name: "C"}), `{"Name":"C","Age":0,"Tags":null,"Meta":null}`},
		{"interface map", iface(map[string]interface{}{"k": []byte("v"), "n": 1}), `{"k":"dg==","n":1}`},
		{"interface nested", iface([]interface{}{1, "a", []interface{}{true, Person{Age: 3}}}),
			`[1,"a",[true,{"Name":"","Age":3,"Tags":null,"Meta":null}]]`},
		{"map of interfaces", map[string]interface{}{"key": "k", "value": []byte("hi")}, `{"key":"k","value":"aGk="}`},
		{"recursive list", list, `{"Val":1,"Next":{"Val":2,"Next":null}}`},
		{"recursive slice", Tree{Name: "a", Children: []Tree{{Name: "b"}}}, `{"Name":"a","Children":[{"Name":"b","Children":null}]}`},
		{"GobEncoder", when, `"` + b64(whenBin) + `"`},
		{"BinaryMarshaler", HasBin{B: binOnly{3}},
			`{"B":"A/8=","W":null}`}, // gob omits a zero time.Time
		{"GobEncoder field", HasBin{W: when}, `{"B":null,"W":"` + b64(whenBin) + `"}`},
		{"empty struct", struct{}{}, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				j, err := json.Marshal(tt.in)
				if err != nil {
					t.Fatal(err)
				}
				want = string(j)
			}
			d := NewDecoder(bytes.NewReader(stdEncode(t, tt.in)))
			got, err := d.DecodeJSON()
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func b64(b []byte) string {
	j, _ := json.Marshal(b)
	return strings.Trim(string(j), `"`)
}

// TestStreamReusesTypes checks that type definitions sent with the first
// value serve later ones, as on a net/rpc connection.
func TestStreamReusesTypes(t *testing.T) {
	data := stdEncode(t, Person{Name: "a"}, Person{Name: "b"}, "x", Person{Age: 1})
	d := NewDecoder(bytes.NewReader(data))
	var got []string
	for {
		j, err := d.DecodeJSON()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		got = append(got, string(j))
	}
	want := []string{
		`{"Name":"a","Age":0,"Tags":null,"Meta":null}`,
		`{"Name":"b","Age":0,"Tags":null,"Meta":null}`,
		`"x"`,
		`{"Name":"","Age":1,"Tags":null,"Meta":null}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestEncodeToStdlib(t *testing.T) {
	ptr := func(v any) any { return v }
	_ = ptr
	tests := []struct {
		name string
		json string
		into func() any // a pointer to a new zero value of the receiving type
		want any
	}{
		{"null to interface", `null`, func() any { return new(any) }, nil},
		{"empty to interface", ``, func() any { return new(any) }, nil},
		{"string", `"hi"`, func() any { return new(string) }, "hi"},
		{"int", `-3`, func() any { return new(int) }, -3},
		{"int into int8", `-3`, func() any { return new(int8) }, int8(-3)},
		{"float", `2.5`, func() any { return new(float64) }, 2.5},
		{"float into float32", `2.5`, func() any { return new(float32) }, float32(2.5)},
		{"bool", `true`, func() any { return new(bool) }, true},
		{"typed slice", `["a","b"]`, func() any { return new([]string) }, []string{"a", "b"}},
		{"int slice", `[1,2,3]`, func() any { return new([]int) }, []int{1, 2, 3}},
		{"mixed numbers", `[1,2.5]`, func() any { return new([]float64) }, []float64{1, 2.5}},
		{"mixed slice", `[1,"a",true,null]`, func() any { return new([]interface{}) }, []interface{}{1, "a", true, nil}},
		{"struct", `{"Name":"Ann","Age":30,"Tags":["x"]}`, func() any { return new(Person) }, Person{Name: "Ann", Age: 30, Tags: []string{"x"}}},
		{"struct with empty fields", `{"Name":"Ann","Tags":[],"Meta":{},"Age":null}`, func() any { return new(Person) }, Person{Name: "Ann"}},
		{"struct with map", `{"Name":"A","Meta":{"$gob":"map[string]string","value":{"k":"v"}}}`, func() any { return new(Person) },
			Person{Name: "A", Meta: map[string]string{"k": "v"}}},
		{"nested structs", `{"ID":{"$gob":"uint64","value":9},"In":{"X":1.5},"List":[{"X":1.0},{"Y":2.5}],"Arr":{"$gob":"[2]int8","value":[1,-1]},"Flag":true}`,
			func() any { return new(Outer) }, Outer{ID: 9, In: Inner{X: 1.5}, List: []Inner{{X: 1}, {Y: 2.5}}, Arr: [2]int8{1, -1}, Flag: true}},
		{"struct with pointer field", `{"Ptr":{"X":2.0}}`, func() any { return new(Outer) }, Outer{Ptr: &Inner{X: 2}}},
		{"struct with interface field", `{"Any":{"$gob":"interface{}","value":"s"}}`, func() any { return new(Outer) }, Outer{Any: "s"}},
		{"bytes", `{"$gob":"[]byte","value":"aGk="}`, func() any { return new([]byte) }, []byte("hi")},
		{"byte array", `{"$gob":"[3]byte","value":"AQID"}`, func() any { return new([3]byte) }, [3]byte{1, 2, 3}},
		{"uint", `{"$gob":"uint","value":5}`, func() any { return new(uint) }, uint(5)},
		{"uint8", `{"$gob":"uint8","value":255}`, func() any { return new(uint8) }, uint8(255)},
		{"int64", `{"$gob":"int64","value":-9007199254740993}`, func() any { return new(int64) }, int64(-9007199254740993)},
		{"big positive is uint64", `18446744073709551615`, func() any { return new(uint64) }, uint64(math.MaxUint64)},
		{"complex", `{"$gob":"complex128","value":{"real":1,"imag":-1}}`, func() any { return new(complex128) }, complex(1, -1)},
		{"complex64", `{"$gob":"complex64","value":[0.5,2]}`, func() any { return new(complex64) }, complex64(complex(0.5, 2))},
		{"map string interface (KV Put)", `{"$gob":"map[string]interface{}","value":{"key":"hello","value":{"$gob":"[]byte","value":"d29ybGQ="}}}`,
			func() any { return new(map[string]interface{}) }, map[string]interface{}{"key": "hello", "value": []byte("world")}},
		{"map string string", `{"$gob":"map[string]string","value":{"a":"b"}}`, func() any { return new(map[string]string) }, map[string]string{"a": "b"}},
		{"map int keys", `{"$gob":"map[int]string","value":{"1":"a","-2":"b"}}`, func() any { return new(map[int]string) }, map[int]string{1: "a", -2: "b"}},
		{"map pair form", `{"$gob":"map[bool]int","value":[{"key":true,"value":3}]}`, func() any { return new(map[bool]int) }, map[bool]int{true: 3}},
		{"interface string", `{"$gob":"interface{}","value":"x"}`, func() any { return new(any) }, "x"},
		{"interface int8", `{"$gob":"interface{}","value":{"$gob":"int8","value":3}}`, func() any { return new(any) }, int8(3)},
		{"interface []string", `{"$gob":"interface{}","value":["a"]}`, func() any { return new(any) }, []string{"a"}},
		{"interface registered struct", `{"$gob":"interface{}","name":"github.com/plugctl/plugctl/runtime/internal/gobwire.Person","value":{"Name":"P"}}`,
			func() any { return new(any) }, Person{Name: "P"}},
		{"interface nested interfaces", `{"$gob":"interface{}","value":{"$gob":"[]interface{}","value":[1,{"$gob":"map[string]interface{}","value":{"k":[true]}}]}}`,
			func() any { return new(any) }, []interface{}{1, map[string]interface{}{"k": []bool{true}}}},
		{"slice of slices", `[[1],[2,3],[]]`, func() any { return new([][]int) }, [][]int{{1}, {2, 3}, nil}}, // encoding/gob decodes an empty slice as nil
		{"empty array", `[]`, func() any { return new([]interface{}) }, []interface{}(nil)},
		{"null elements are zero", `[1,null,3]`, func() any { return new([]int) }, []int{1, 0, 3}},
		{"recursive", `{"Val":1,"Next":{"Val":2,"Next":{"Val":3}}}`, func() any { return new(Node) }, Node{Val: 1, Next: &Node{Val: 2, Next: &Node{Val: 3}}}},
		{"empty struct", `{"$gob":"struct{}"}`, func() any { return new(struct{}) }, struct{}{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := NewEncoder(&b).EncodeJSON([]byte(tt.json)); err != nil {
				t.Fatalf("encode: %v", err)
			}
			into := tt.into()
			if err := gob.NewDecoder(&b).Decode(into); err != nil {
				t.Fatalf("encoding/gob decode: %v", err)
			}
			got := reflect.ValueOf(into).Elem().Interface()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestEncodeStream checks that a stream of values reuses type definitions
// and that encoding/gob reads them all, as net/rpc does.
func TestEncodeStream(t *testing.T) {
	var b bytes.Buffer
	enc := NewEncoder(&b)
	for _, j := range []string{`{"Name":"a","Age":1}`, `{"Name":"b","Age":2}`, `"x"`, `{"Name":"c","Age":3}`} {
		if err := enc.EncodeJSON([]byte(j)); err != nil {
			t.Fatal(err)
		}
	}
	dec := gob.NewDecoder(&b)
	var p Person
	for _, want := range []Person{{Name: "a", Age: 1}, {Name: "b", Age: 2}} {
		p = Person{}
		if err := dec.Decode(&p); err != nil || !reflect.DeepEqual(p, want) {
			t.Fatalf("got %+v, %v; want %+v", p, err, want)
		}
	}
	var s string
	if err := dec.Decode(&s); err != nil || s != "x" {
		t.Fatalf("got %q, %v", s, err)
	}
	p = Person{}
	if err := dec.Decode(&p); err != nil || p.Name != "c" {
		t.Fatalf("got %+v, %v", p, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct{ json, want string }{
		{`{"$gob":"uint","value":-1}`, "not a uint"},
		{`{"$gob":"int8","value":300}`, "not an int8"},
		{`{"$gob":"[]byte","value":"!!"}`, "base64"},
		{`{"$gob":"chan int"}`, "unknown type"},
		{`{"$gob":"interface{}","value":{"A":1}}`, "registered"},
		{`{"lower":1}`, "exported"},
		{`{"$gob":"map[string]int","value":{"a":"x"}}`, "does not fit int"},
		{`{"$gob":"int","bogus":1}`, "unknown key"},
		{`[1,`, "invalid JSON"},
		{`{"$gob":"[100000000]int"}`, "bad array length"},
		{`{"$gob":"[1024][1024][2]int"}`, "not supported"},
	}
	for _, tt := range tests {
		_, err := FromJSON([]byte(tt.json))
		if err == nil || !errors.Is(err, ErrArg) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FromJSON(%s) = %v, want an ErrArg containing %q", tt.json, err, tt.want)
		}
	}
}

// TestRoundTrip encodes JSON with this package and decodes it with this
// package: the output is the canonical form of the input.
func TestRoundTrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"hi"`, `"hi"`},
		{`null`, `null`},
		{`[1,2]`, `[1,2]`},
		{`{"A":[{"B":1},{"C":"x"}]}`, `{"A":[{"B":1,"C":""},{"B":0,"C":"x"}]}`},
		{`{"$gob":"map[string]interface{}","value":{"b":{"$gob":"[]byte","value":"aGk="},"a":1.5}}`, `{"a":1.5,"b":"aGk="}`},
		{`{"$gob":"complex128","value":{"real":1,"imag":2}}`, `{"real":1,"imag":2}`},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := NewEncoder(&b).EncodeJSON([]byte(tt.in)); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		got, err := NewDecoder(&b).DecodeJSON()
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: got %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	valid := stdEncode(t, Outer{ID: 1, List: []Inner{{1, 2}}, Any: []interface{}{"x"}})
	for i := range valid {
		_, _ = NewDecoder(bytes.NewReader(valid[:i])).Decode()
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"huge message", []byte{0xfc, 0x7f, 0xff, 0xff, 0xff}},
		{"huge slice", append([]byte{0x07, 0xff, 0x82}, []byte{0x01, 0x02, 0x08, 0x02, 0x00, 0x00}...)},
		{"bad uint", []byte{0x03, 0xf0, 0x00, 0x00}},
		{"unknown type", []byte{0x03, 0x82, 0x00, 0x00}},
	}
	for _, tt := range tests {
		if _, err := NewDecoder(bytes.NewReader(tt.data)).Decode(); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// TestNilInterfaceIgnored reproduces what net/rpc does with the argument of
// an unknown method (Decode(nil)) and checks that the next value is still
// read: without the pad encoding/gob would swallow it.
func TestNilInterfaceIgnored(t *testing.T) {
	var b bytes.Buffer
	enc := NewEncoder(&b)
	for _, j := range []string{`null`, `"next"`, `null`} {
		if err := enc.EncodeJSON([]byte(j)); err != nil {
			t.Fatal(err)
		}
	}
	dec := gob.NewDecoder(&b)
	if err := dec.DecodeValue(reflect.Value{}); err != nil { // what Decode(nil) does
		t.Fatalf("discarding the nil interface: %v", err)
	}
	var s string
	if err := dec.Decode(&s); err != nil || s != "next" {
		t.Fatalf("next value: %q, %v", s, err)
	}
	v := any("not nil")
	if err := dec.Decode(&v); err != nil || v != nil {
		t.Fatalf("decoding the nil interface: %v, %v", v, err)
	}
}

// RecSlice is a recursive type without a struct in the cycle.
type RecSlice []RecSlice

func TestRecursiveSlice(t *testing.T) {
	got, err := NewDecoder(bytes.NewReader(stdEncode(t, RecSlice{{}, {{}}}))).DecodeJSON()
	if err != nil || string(got) != `[[],[[]]]` {
		t.Fatalf("got %s, %v", got, err)
	}
	var b bytes.Buffer
	v, _ := NewDecoder(bytes.NewReader(stdEncode(t, RecSlice{{}, {{}}}))).Decode()
	if err := NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	var r RecSlice
	if err := gob.NewDecoder(&b).Decode(&r); err != nil || len(r) != 2 || len(r[1]) != 1 {
		t.Fatalf("encoding/gob read back %v, %v", r, err)
	}
}
