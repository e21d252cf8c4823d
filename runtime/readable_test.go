package runtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

const readableProto = `syntax = "proto3";
package tfplugin6;
message DynamicValue { bytes msgpack = 1; bytes json = 2; }
message Inner { bytes blob = 1; string name = 2; }
message Req {
  bytes one = 1;
  repeated bytes many = 2;
  map<string, bytes> byKey = 3;
  Inner inner = 4;
  repeated Inner inners = 5;
  DynamicValue value = 6;
  string text = 7;
  bytes raw_data = 8;
}
message Plain { string s = 1; Plain next = 2; map<string, Plain> byName = 3; }
message Deep { Plain plain = 1; Deeper deeper = 2; }
message Deeper { Deep back = 1; map<string, bytes> blobs = 2; }
`

// readableMessage compiles readableProto and returns its message name.
func readableMessage(t *testing.T, name string) protoreflect.MessageDescriptor {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.proto"), []byte(readableProto), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := compileProtos(context.Background(), []string{filepath.Join(dir, "r.proto")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.files.FindDescriptorByName(protoreflect.FullName("tfplugin6." + name))
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestReadableArgs(t *testing.T) {
	md := readableMessage(t, "Req")
	for _, c := range []struct{ in, want string }{
		// Objects, arrays, numbers and bools are sent as their JSON text;
		// strings stay base64 and null stays null.
		{`{"one": {"a": [1, 2.50]}}`, `{"one":"` + b64(`{"a":[1,2.50]}`) + `"}`},
		{`{"one": [true]}`, `{"one":"` + b64(`[true]`) + `"}`},
		{`{"one": 12345678901234567890}`, `{"one":"` + b64(`12345678901234567890`) + `"}`},
		{`{"one": false}`, `{"one":"` + b64(`false`) + `"}`},
		{`{"one": "aGk=", "text": {"x": 1}}`, `{"one": "aGk=", "text": {"x": 1}}`},
		{`{"one": null}`, `{"one": null}`},
		// Repeated and map elements, nested messages, proto names.
		{`{"many": [{"a": 1}, "aGk=", null], "byKey": {"k": [1]}, "raw_data": {"r": 1}}`, `{"many":["` + b64(`{"a":1}`) + `","aGk=",null],"byKey":{"k":"` + b64(`[1]`) + `"},"raw_data":"` + b64(`{"r":1}`) + `"}`},
		{`{"inner": {"blob": {"z": true}, "name": "n"}, "inners": [{"blob": 1}]}`, `{"inner":{"blob":"` + b64(`{"z":true}`) + `","name":"n"},"inners":[{"blob":"` + b64(`1`) + `"}]}`},
		{`{"value": {"json": {"name": "world"}}}`, `{"value":{"json":"` + b64(`{"name":"world"}`) + `"}}`},
		// Unknown keys, non-objects and invalid JSON are left to protojson.
		{`{"nosuch": {"a": 1}}`, `{"nosuch": {"a": 1}}`},
		{`[1]`, `[1]`},
		{`{"one": `, `{"one": `},
	} {
		if got := string(readableArgs([]byte(c.in), md)); got != c.want {
			t.Errorf("readableArgs(%s)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func TestReachesBytes(t *testing.T) {
	for name, want := range map[string]bool{"Plain": false, "Deep": true, "Deeper": true, "Req": true, "DynamicValue": true} {
		if got := reachesBytes(readableMessage(t, name)); got != want {
			t.Errorf("reachesBytes(%s) = %v, want %v", name, got, want)
		}
	}
	// Without bytes, ARGS go as given, spacing and all.
	in := `{"s": 1,  "next": {"s": {"a": 1}}}`
	if got := string(readableArgs([]byte(in), readableMessage(t, "Plain"))); got != in {
		t.Errorf("readableArgs(Plain) = %s", got)
	}
}

func TestDecodeResult(t *testing.T) {
	md := readableMessage(t, "Req")
	// msgpack of {"a": 1, "b": unknown, "big": 2^60, "f": 1.5, "t": ["string", "x"] (type JSON in a bin)}
	mp := []byte{0x85,
		0xa1, 'a', 0x01,
		0xa1, 'b', 0xd4, 0x00, 0x00,
		0xa3, 'b', 'i', 'g', 0xcf, 0x10, 0, 0, 0, 0, 0, 0, 0,
		0xa1, 'f', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
		0xa1, 't', 0x92, 0xc4, 0x08, '"', 's', 't', 'r', 'i', 'n', 'g', '"', 0xa1, 'x',
	}
	in := `{"one":"` + b64(`{"k":[1,"v"]}`) + `","many":["` + b64("\x00\x01") + `","` + b64(`"s"`) + `"],` +
		`"byKey":{"a":"` + b64(`true`) + `"},"inner":{"blob":"` + b64(`{"n":1}`) + `"},` +
		`"value":{"msgpack":"` + base64.StdEncoding.EncodeToString(mp) + `"},"text":"` + b64(`{}`) + `"}`
	want := `{"one":{"k":[1,"v"]},"many":["AAE=","s"],"byKey":{"a":true},"inner":{"blob":{"n":1}},` +
		`"value":{"msgpack":{"a":1,"b":{"$unknown":true},"big":"1152921504606846976","f":1.5,"t":["string","x"]}},"text":"` + b64(`{}`) + `"}`
	if got := string(decodeResult([]byte(in), md)); got != want {
		t.Errorf("decodeResult\n got %s\nwant %s", got, want)
	}
	// A msgpack that does not parse stays base64.
	bad := `{"value":{"msgpack":"` + b64("\x92\x01") + `"}}`
	if got := string(decodeResult([]byte(bad), md)); got != bad {
		t.Errorf("decodeResult(truncated msgpack) = %s, want it unchanged", got)
	}
}

func TestMsgpackToJSON(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{[]byte{0xc0}, `null`},
		{[]byte{0xc3}, `true`},
		{[]byte{0xff}, `-1`},
		{[]byte{0xd0, 0x80}, `-128`},
		{[]byte{0xd3, 0xff, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, `"-9007199254740993"`},
		{[]byte{0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 0}, `-9007199254740992`},
		{[]byte{0xcd, 0x01, 0x00}, `256`},
		{[]byte{0xca, 0x3f, 0xc0, 0, 0}, `1.5`},
		{[]byte{0xd9, 0x02, 'h', 'i'}, `"hi"`},
		{[]byte{0xc7, 0x01, 0x00, 0x00}, `{"$unknown":true}`},
		{[]byte{0xdc, 0x00, 0x02, 0x01, 0x02}, `[1,2]`},
		{[]byte{0x81, 0x01, 0x02}, `{"1":2}`},
		{[]byte{0xc4, 0x02, 0x01, 0x02}, `"AQI="`},
	} {
		n, err := msgpackToJSON(c.in)
		if err != nil {
			t.Errorf("msgpackToJSON(%x): %v", c.in, err)
			continue
		}
		if got := string(n.bytes()); got != c.want {
			t.Errorf("msgpackToJSON(%x) = %s, want %s", c.in, got, c.want)
		}
	}
	// Hostile input: cut short, trailing bytes, huge counts, deep nesting.
	deep := make([]byte, 1000)
	for i := range deep {
		deep[i] = 0x91
	}
	for _, in := range [][]byte{{}, {0x92, 0x01}, {0x01, 0x02}, {0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdb, 0xff, 0xff, 0xff, 0xff}, {0xc1}, deep} {
		if _, err := msgpackToJSON(in); err == nil {
			t.Errorf("msgpackToJSON(%x): no error", in)
		}
	}
}

func TestGrafanaDefaults(t *testing.T) {
	dir := t.TempDir()
	proto := `syntax = "proto3";
package pluginv2;
enum DataFrameFormat { ARROW = 0; JSON = 1; }
message Settings { int64 id = 1; string uid = 2; string name = 3; bytes jsonData = 4; }
message PluginContext { int64 orgId = 1; string pluginId = 2; Settings dataSourceInstanceSettings = 5; }
message TimeRange { int64 fromEpochMS = 1; int64 toEpochMS = 2; }
message DataQuery { string refId = 1; TimeRange timeRange = 4; bytes json = 5; }
message QueryDataRequest { PluginContext pluginContext = 1; repeated DataQuery queries = 3; DataFrameFormat format = 4; }
`
	if err := os.WriteFile(filepath.Join(dir, "g.proto"), []byte(proto), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := compileProtos(context.Background(), []string{filepath.Join(dir, "g.proto")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.files.FindDescriptorByName("pluginv2.QueryDataRequest")
	md := d.(protoreflect.MessageDescriptor)
	now := time.UnixMilli(1700003600000)
	got := string(grafanaDefaults([]byte(`{"pluginContext": {"orgId": "7", "dataSourceInstanceSettings": {"name": "mine"}}, "queries": [{"refId": "A"}, {"refId": "B", "timeRange": {"fromEpochMS": "5"}}], "format": "ARROW"}`), md, "myds", now))
	want := `{"pluginContext":{"orgId":"7","dataSourceInstanceSettings":{"name":"mine","id":"1","uid":"plugctl","jsonData":{}},"pluginId":"myds"},` +
		`"queries":[{"refId":"A","timeRange":{"fromEpochMS":"1700000000000","toEpochMS":"1700003600000"}},{"refId":"B","timeRange":{"fromEpochMS":"5","toEpochMS":"1700003600000"}}],"format":"ARROW"}`
	if got != want {
		t.Errorf("grafanaDefaults\n got %s\nwant %s", got, want)
	}
	got = string(grafanaDefaults(nil, md, "myds", now))
	want = `{"pluginContext":{"orgId":"1","pluginId":"myds","dataSourceInstanceSettings":{"id":"1","uid":"plugctl","name":"plugctl","jsonData":{}}},"format":"JSON"}`
	if got != want {
		t.Errorf("grafanaDefaults(empty)\n got %s\nwant %s", got, want)
	}
	// jsonData {} then goes as the bytes of "{}".
	if got := string(readableArgs([]byte(want), md)); !contains(got, `"jsonData":"`+b64(`{}`)+`"`) {
		t.Errorf("readableArgs after defaults = %s", got)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestTerraformDiagnostics(t *testing.T) {
	err := terraformDiagnostics("P/M", []byte(`{"diagnostics":[{"severity":"WARNING","summary":"w"},{"severity":"ERROR","summary":"first"},{"severity":"ERROR","summary":"second"}]}`))
	de, ok := err.(*DiagnosticsError)
	if !ok || de.Summary != "first" || len(de.Diagnostics) != 3 || de.Method != "P/M" {
		t.Fatalf("terraformDiagnostics = %#v", err)
	}
	for _, doc := range []string{`{}`, `{"diagnostics":[{"severity":"WARNING","summary":"w"}]}`, `{"state":{}}`, `[`} {
		if err := terraformDiagnostics("P/M", []byte(doc)); err != nil {
			t.Errorf("terraformDiagnostics(%s) = %v, want nil", doc, err)
		}
	}
	// Through a keeper: the same error comes back.
	back := decodeKeptError(encodeKeptError(de))
	if b, ok := back.(*DiagnosticsError); !ok || b.Summary != "first" || len(b.Diagnostics) != 3 {
		t.Errorf("through a keeper: %#v", back)
	}
}

// FuzzMsgpackToJSON: any input either fails or yields valid JSON; nothing
// panics or recurses without bound.
func FuzzMsgpackToJSON(f *testing.F) {
	for _, s := range [][]byte{{0x81, 0xa1, 'a', 0xd4, 0, 0}, {0x92, 0xc4, 0x01, '1', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, {0xdf, 0, 0, 0, 1, 0xc0, 0xc0}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := msgpackToJSON(b)
		if err != nil {
			return
		}
		if out := n.bytes(); !json.Valid(out) {
			t.Fatalf("msgpackToJSON(%x) = %s: not JSON", b, out)
		}
	})
}

func TestVaultReplyError(t *testing.T) {
	for doc, want := range map[string]string{
		`{"err":{"errType":3,"errMsg":"no value named \"foo\"","errCode":"404"},"walIndex":{}}`: `no value named "foo" (code 404)`,
		`{"response":{"data":"{}"},"err":{"errType":7,"errMsg":"invalid request"}}`:             "invalid request",
		`{"err":{"errType":5}}`:    `{"errType":5}`,
		`{"err":"factory failed"}`: "factory failed",
	} {
		err := vaultReplyError("pb.Backend/M", []byte(doc))
		de, ok := err.(*DiagnosticsError)
		if !ok || de.Summary != want || de.Method != "pb.Backend/M" || de.Diagnostics != nil {
			t.Errorf("vaultReplyError(%s) = %#v, want summary %q", doc, err, want)
			continue
		}
		// Through a keeper: the same error comes back.
		if b, ok := decodeKeptError(encodeKeptError(de)).(*DiagnosticsError); !ok || b.Summary != want || len(b.Diagnostics) != 0 {
			t.Errorf("through a keeper: %#v", b)
		}
	}
	for _, doc := range []string{`{}`, `{"walIndex":{}}`, `{"err":""}`, `{"response":{"data":"{\"err\":1}"}}`, `{"err":[1]}`, `[`} {
		if err := vaultReplyError("pb.Backend/M", []byte(doc)); err != nil {
			t.Errorf("vaultReplyError(%s) = %v, want nil", doc, err)
		}
	}
}

func TestVaultArgs(t *testing.T) {
	dir := t.TempDir()
	proto := `syntax = "proto3";
package pb;
message Request { string operation = 1; string path = 2; string data = 5; }
message HandleRequestArgs { uint32 storage_id = 1; Request request = 2; }
message Other { Request request = 1; }
`
	if err := os.WriteFile(filepath.Join(dir, "v.proto"), []byte(proto), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := compileProtos(context.Background(), []string{filepath.Join(dir, "v.proto")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.files.FindDescriptorByName("pb.HandleRequestArgs")
	md := d.(protoreflect.MessageDescriptor)
	for _, c := range []struct{ in, want string }{
		// An object is sent as its JSON text.
		{`{"request": {"operation": "create", "path": "kv/a", "data": {"value": "<b>", "n": 1}}}`, `{"request":{"operation":"create","path":"kv/a","data":"{\"value\":\"\\u003cb\\u003e\",\"n\":1}"}}`},
		// A missing or null data is the empty object the SDK can parse.
		{`{"request": {"operation": "read", "path": "kv/a"}}`, `{"request":{"operation":"read","path":"kv/a","data":"{}"}}`},
		{`{"request": {"path": "kv/a", "data": null}}`, `{"request":{"path":"kv/a","data":"{}"}}`},
		// A string stays what the user wrote.
		{`{"request": {"data": "{\"value\": 1}"}}`, `{"request": {"data": "{\"value\": 1}"}}`},
		// No request, or not an object: untouched.
		{`{"storage_id": 3}`, `{"storage_id": 3}`},
		{`{"request": 5}`, `{"request": 5}`},
		{`not json`, `not json`},
	} {
		if got := string(vaultArgs([]byte(c.in), md)); got != c.want {
			t.Errorf("vaultArgs(%s)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	// Any request whose request field is a pb.Request (HandleExistenceCheckArgs too).
	d, _ = s.files.FindDescriptorByName("pb.Other")
	in := `{"request": {"path": "x"}}`
	if got := string(vaultArgs([]byte(in), d.(protoreflect.MessageDescriptor))); got != `{"request":{"path":"x","data":"{}"}}` {
		t.Errorf("vaultArgs(pb.Other) = %s", got)
	}
}
