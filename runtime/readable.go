package runtime

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/plugctl/plugctl/profile"
)

// Readable bytes. protojson writes a bytes field as base64, which hides
// the JSON documents that ecosystems carry in bytes (Terraform's schema
// types and values, Grafana's settings and data frames). In ARGS a bytes
// field may be written as the JSON value it holds; with decoding on, a
// result's bytes that hold JSON print as that JSON, and a Terraform
// DynamicValue's msgpack as JSON. Decoded output is for reading: it does
// not round-trip through protojson.

// jsonBytesNode is b parsed when it is one whole JSON document, else nil.
func jsonBytesNode(b []byte) *jnode {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || !json.Valid(t) {
		return nil
	}
	n, err := parseJSONTree(t)
	if err != nil {
		return nil
	}
	return n
}

// fieldByKey finds the field an object key names, as protojson accepts it:
// its JSON name or its proto name.
func fieldByKey(md protoreflect.MessageDescriptor, key string) protoreflect.FieldDescriptor {
	fs := md.Fields()
	if fd := fs.ByJSONName(key); fd != nil {
		return fd
	}
	return fs.ByTextName(key)
}

// wellKnown reports whether protojson gives md a JSON form of its own
// (google.protobuf.*): its fields are not written as an object's keys.
func wellKnown(md protoreflect.MessageDescriptor) bool {
	return strings.HasPrefix(string(md.FullName()), "google.protobuf.")
}

// readableArgs rewrites args so that protojson accepts it: every bytes
// field (or element of a repeated or map bytes field) given as an object,
// array, number or bool becomes the base64 of that value's JSON text. A
// string stays base64 and null stays null. Documents that are not an
// object, or not valid JSON, are returned as they are (protojson reports
// them).
func readableArgs(args []byte, md protoreflect.MessageDescriptor) []byte {
	if !reachesBytes(md) {
		// Most requests: nothing to rewrite, no parse to pay.
		return args
	}
	n, err := parseJSONTree(args)
	if err != nil || n.kind != '{' {
		return args
	}
	if !encodeBytesFields(n, md) {
		return args
	}
	return n.bytes()
}

// encodeBytesFields rewrites n, an object for md, in place; it reports
// whether anything changed.
func encodeBytesFields(n *jnode, md protoreflect.MessageDescriptor) bool {
	return rewriteBytesFields(n, md, func(v *jnode, _ protoreflect.MessageDescriptor, _ protoreflect.FieldDescriptor) *jnode {
		if v.isString() || v.isNull() {
			return nil
		}
		return jscalar(base64.StdEncoding.EncodeToString(v.bytes()))
	})
}

// rewriteBytesFields walks n, an object for md, and its messages' objects
// (map values, list elements, singular fields), handing each value of a
// bytes field to leaf with the message and field that hold it; a non-nil
// result replaces the value. It reports whether anything was replaced.
func rewriteBytesFields(n *jnode, md protoreflect.MessageDescriptor, leaf func(v *jnode, md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor) *jnode) bool {
	if n.kind != '{' || wellKnown(md) {
		return false
	}
	changed := false
	each := func(v *jnode, fd protoreflect.FieldDescriptor) *jnode {
		switch {
		case fd.Kind() == protoreflect.BytesKind:
			if r := leaf(v, md, fd); r != nil {
				changed = true
				return r
			}
		case fd.Message() != nil && rewriteBytesFields(v, fd.Message(), leaf):
			changed = true
		}
		return v
	}
	for i, k := range n.keys {
		fd := fieldByKey(md, k)
		if fd == nil {
			continue
		}
		v := n.vals[i]
		switch {
		case fd.IsMap() && v.kind == '{':
			for j := range v.vals {
				v.vals[j] = each(v.vals[j], fd.MapValue())
			}
		case fd.IsList() && v.kind == '[':
			for j := range v.vals {
				v.vals[j] = each(v.vals[j], fd)
			}
		case !fd.IsMap() && !fd.IsList():
			n.vals[i] = each(v, fd)
		}
	}
	return changed
}

// reachesBytes reports whether a message of type md can hold a bytes field
// that protojson writes as base64: its own, or its messages' (well-known
// types aside). Not cached: a walk of the types is cheap next to parsing
// the document, and two plugins may give one name to different types.
func reachesBytes(md protoreflect.MessageDescriptor) bool {
	seen := map[protoreflect.FullName]bool{}
	var walk func(m protoreflect.MessageDescriptor) bool
	walk = func(m protoreflect.MessageDescriptor) bool {
		if seen[m.FullName()] || wellKnown(m) {
			return false
		}
		seen[m.FullName()] = true
		fs := m.Fields()
		for i := 0; i < fs.Len(); i++ {
			fd := fs.Get(i)
			if fd.IsMap() {
				fd = fd.MapValue()
			}
			if fd.Kind() == protoreflect.BytesKind || fd.Message() != nil && walk(fd.Message()) {
				return true
			}
		}
		return false
	}
	return walk(md)
}

// decodeResult rewrites doc, protojson of a message md, for reading: each
// bytes value holding JSON becomes that JSON, and a DynamicValue's msgpack
// (Terraform) its JSON. Other bytes stay base64.
func decodeResult(doc []byte, md protoreflect.MessageDescriptor) []byte {
	if !reachesBytes(md) {
		return doc
	}
	n, err := parseJSONTree(doc)
	if err != nil || n.kind != '{' {
		return doc
	}
	if !decodeBytesFields(n, md) {
		return doc
	}
	return n.bytes()
}

func decodeBytesFields(n *jnode, md protoreflect.MessageDescriptor) bool {
	return rewriteBytesFields(n, md, func(v *jnode, md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor) *jnode {
		if !v.isString() {
			return nil
		}
		var s string
		if json.Unmarshal(v.raw, &s) != nil {
			return nil
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		if isDynamicMsgpack(md, fd) {
			if m, err := msgpackToJSON(b); err == nil {
				return m
			}
			return nil
		}
		return jsonBytesNode(b)
	})
}

// isDynamicMsgpack reports whether fd is the msgpack field of Terraform's
// DynamicValue (tfplugin5.DynamicValue, tfplugin6.DynamicValue).
func isDynamicMsgpack(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor) bool {
	return md.Name() == "DynamicValue" && fd.Name() == "msgpack" && strings.HasPrefix(string(md.ParentFile().Package()), "tfplugin")
}

// grafanaDefaults fills in what Grafana always sends with a request and
// ARGS (args, for a request md) lacks, object by object under ARGS: the
// plugin context of a data source instance, each query's time range (the
// last hour), and frames as JSON. The Grafana SDK dereferences these
// without checking, so a call without them panics in the plugin.
func grafanaDefaults(args []byte, md protoreflect.MessageDescriptor, pluginID string, now time.Time) []byte {
	if len(bytes.TrimSpace(args)) == 0 {
		args = []byte("{}")
	}
	n, err := parseJSONTree(args)
	if err != nil || n.kind != '{' {
		return args
	}
	fields := md.Fields()
	if fd := fields.ByName("pluginContext"); fd != nil && fd.Message() != nil {
		def, _ := parseJSONTree(fmt.Appendf(nil, `{"orgId":"1","pluginId":%q,"dataSourceInstanceSettings":{"id":"1","uid":"plugctl","name":"plugctl","jsonData":{}}}`, pluginID))
		if have := n.get(fd.JSONName()); have == nil {
			n.set(fd.JSONName(), def)
		} else {
			mergeUnder(have, def)
		}
	}
	if fd := fields.ByName("queries"); fd != nil && fd.IsList() && fd.Message() != nil && fd.Message().Fields().ByName("timeRange") != nil {
		if qs := n.get(fd.JSONName()); qs != nil && qs.kind == '[' {
			to := now.UnixMilli()
			def, _ := parseJSONTree(fmt.Appendf(nil, `{"timeRange":{"fromEpochMS":"%d","toEpochMS":"%d"}}`, to-time.Hour.Milliseconds(), to))
			for _, q := range qs.vals {
				mergeUnder(q, def)
			}
		}
	}
	if fd := fields.ByName("format"); fd != nil && fd.Enum() != nil && fd.Enum().Values().ByName("JSON") != nil && n.get(fd.JSONName()) == nil {
		n.set(fd.JSONName(), jscalar("JSON"))
	}
	return n.bytes()
}

// vaultArgs is args, for a request md of a Vault backend (vault/sdk's
// plugin/pb), with the request's data as the backend reads it: pb.Request
// carries data as a string holding a JSON object, which the SDK parses
// even when empty. A data given as a JSON object (or array) is sent as its
// JSON text; a missing one as "{}". A data given as a string is sent as
// it is.
func vaultArgs(args []byte, md protoreflect.MessageDescriptor) []byte {
	fd := md.Fields().ByName("request")
	if fd == nil || fd.Message() == nil || fd.Message().FullName() != "pb.Request" {
		return args
	}
	data := fd.Message().Fields().ByName("data")
	if data == nil || data.Kind() != protoreflect.StringKind || data.IsList() {
		return args
	}
	n, err := parseJSONTree(args)
	if err != nil || n.kind != '{' {
		return args
	}
	req := n.get(fd.JSONName())
	if req == nil || req.kind != '{' {
		return args
	}
	switch have := req.get(data.JSONName()); {
	case have == nil || have.isNull():
		req.set(data.JSONName(), jscalar("{}"))
	case have.kind == '{' || have.kind == '[':
		req.set(data.JSONName(), jscalar(string(have.bytes())))
	default:
		return args
	}
	return n.bytes()
}

// DiagnosticsError is a call whose result reports a failure while the gRPC
// call itself succeeds: an ERROR diagnostic, as Terraform providers report
// failures, or the err of a Vault backend's reply. The result was emitted
// before it is returned.
type DiagnosticsError struct {
	Method string
	// Summary is the first error's summary (Terraform), or the reply's
	// error message (Vault).
	Summary string
	// Diagnostics are the result's diagnostics, each as protojson wrote it;
	// none for a Vault reply, whose err is in the result.
	Diagnostics []json.RawMessage
}

func (e *DiagnosticsError) Error() string {
	return fmt.Sprintf("%s: %s", e.Method, e.Summary)
}

// terraformDiagnostics returns a *DiagnosticsError when doc, a result,
// has a top-level diagnostic of severity ERROR.
func terraformDiagnostics(method string, doc []byte) error {
	var res struct {
		Diagnostics []json.RawMessage `json:"diagnostics"`
	}
	if json.Unmarshal(doc, &res) != nil {
		return nil
	}
	var first string
	found := false
	for _, d := range res.Diagnostics {
		var diag struct {
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
		}
		if json.Unmarshal(d, &diag) == nil && diag.Severity == "ERROR" && !found {
			found, first = true, diag.Summary
		}
	}
	if !found {
		return nil
	}
	return &DiagnosticsError{Method: method, Summary: first, Diagnostics: res.Diagnostics}
}

// vaultReplyError returns a *DiagnosticsError when doc, a result of a
// Vault backend (vault/sdk's plugin/pb), has its top-level err set: a
// ProtoError (HandleRequestReply, HandleExistenceCheckReply,
// InitializeReply) or SetupReply's error text. Summary is the error's
// message, with its HTTP status code when the backend gave one.
func vaultReplyError(method string, doc []byte) error {
	var res struct {
		Err json.RawMessage `json:"err"`
	}
	if json.Unmarshal(doc, &res) != nil || len(res.Err) == 0 {
		return nil
	}
	var msg string
	if json.Unmarshal(res.Err, &msg) != nil {
		var pe struct {
			ErrMsg string `json:"errMsg"`
			// protojson writes an int64 as a string.
			ErrCode string `json:"errCode"`
		}
		if json.Unmarshal(res.Err, &pe) != nil {
			return nil
		}
		msg = pe.ErrMsg
		if msg == "" {
			msg = string(res.Err)
		}
		if pe.ErrCode != "" && pe.ErrCode != "0" {
			msg += " (code " + pe.ErrCode + ")"
		}
	}
	if msg == "" {
		return nil
	}
	return &DiagnosticsError{Method: method, Summary: msg}
}

// readableResult is out, a result of type md, as the call prints it: with
// readable bytes when co (else the plugin's profile) asks for them.
func (p *Plugin) readableResult(out []byte, md protoreflect.MessageDescriptor, co CallOptions) []byte {
	decode := p.spec.Protocol.Decode
	if co.Decode != nil {
		decode = *co.Decode
	}
	if !decode {
		return out
	}
	return decodeResult(out, md)
}

// profileArgs is args as the plugin's profile sends them (Grafana's
// defaults, a Vault request's data), with readable bytes encoded for protojson.
func (p *Plugin) profileArgs(args []byte, md protoreflect.MessageDescriptor) []byte {
	switch p.spec.Protocol.Profile {
	case profile.Grafana:
		args = grafanaDefaults(args, md, p.spec.Name, time.Now())
	case profile.Vault:
		args = vaultArgs(args, md)
	}
	if len(bytes.TrimSpace(args)) == 0 {
		return args
	}
	return readableArgs(args, md)
}

// resultError is the error a result stands for under the plugin's profile:
// a Terraform result with an ERROR diagnostic, or a Vault reply with its
// err set, is a failed call.
func (p *Plugin) resultError(method string, out []byte) error {
	switch p.spec.Protocol.Profile {
	case profile.Terraform:
		return terraformDiagnostics(method, out)
	case profile.Vault:
		return vaultReplyError(method, out)
	}
	return nil
}
