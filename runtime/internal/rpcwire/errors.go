package rpcwire

import (
	"errors"
	"regexp"
	"strings"
	"sync"

	"github.com/plugctl/plugctl/runtime/internal/gobwire"
)

var (
	// ErrUnknownMethod: the plugin has no such method. The error wraps it
	// with the plugin's own message ("rpc: can't find method Plugin.Foo").
	ErrUnknownMethod = errors.New("unknown method")
	// ErrUnknownPlugin: the plugin does not dispense that name ("unknown
	// plugin type: foo").
	ErrUnknownPlugin = errors.New("unknown plugin name")
	// ErrConnLost: the connection dropped mid-call (the plugin exited,
	// crashed or panicked). Errors wrapping it also wrap the cause, which
	// is io.ErrUnexpectedEOF when the stream simply ended.
	ErrConnLost = errors.New("plugin connection lost")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("rpcwire: client closed")
)

// MethodError is an error the plugin's method returned (a net/rpc
// ServerError).
type MethodError struct {
	Method  string // "Plugin.Fail"
	Message string // the method's error text
}

func (e *MethodError) Error() string { return e.Method + ": " + e.Message }

// ArgError: the argument cannot be encoded, or the plugin could not decode
// it into the type its method takes.
type ArgError struct {
	Method string // "Plugin.Upper"
	// Expected is the Go type the plugin wanted, when its reply names it
	// ("string", "interface {}", "main.Person"); empty when unknown.
	Expected string
	// Given is the gob type plugctl sent ("int", "struct { Name string }");
	// empty when the JSON could not be encoded at all.
	Given string
	// Field names the struct field gob rejected, when it says which; then
	// Expected is that field's type.
	Field string
	// Message is the plugin's (gob's) or the encoder's own message.
	Message string
	Err     error // the encoder's error, if the argument never left
}

func (e *ArgError) Error() string {
	var b strings.Builder
	b.WriteString("argument for " + e.Method)
	switch {
	case e.Field != "":
		b.WriteString(": the plugin expects field " + e.Field + " to be " + e.Expected)
	case e.Expected != "" && e.Given != "":
		b.WriteString(": the plugin expects " + e.Expected + " but got " + e.Given)
	default:
		b.WriteString(": " + e.Message)
	}
	b.WriteString("; ")
	b.WriteString(e.hint())
	return b.String()
}

func (e *ArgError) hint() string {
	switch {
	case e.Field != "" && isSimple(e.Expected):
		return `state its type: "` + e.Field + `": {"$gob": "` + e.Expected + `", "value": ...}`
	case e.Expected == "interface {}":
		return `wrap it as {"$gob": "interface{}", "value": ...} (add "name" for a registered struct)`
	case e.Expected != "" && isSimple(e.Expected):
		return `state the type: {"$gob": "` + e.Expected + `", "value": ...}`
	case e.Expected != "":
		return `object keys must be the exported Go field names of ` + e.Expected + `, and each value of the field's type (use {"$gob": "T", "value": ...} for maps, []byte, uint, floats written without a dot)`
	}
	return `give the type with {"$gob": "T", "value": ...}`
}

// isSimple reports whether t can be written in the $gob type grammar.
func isSimple(t string) bool {
	_, err := gobwire.ParseType(t)
	return err == nil
}

// gobPatterns are gob's messages about an argument of the wrong type. They
// are compiled on first use: only a failed call needs them, and at package
// init every plugctl command would pay for them (about 0.1 ms).
var gobPatterns = sync.OnceValue(func() *gobErrorPatterns {
	return &gobErrorPatterns{
		local:     regexp.MustCompile(`^gob: decoding into local type \*?(.+), received remote type (.+)$`),
		iface:     regexp.MustCompile(`^gob: local interface type \*?(.+) can only be decoded from remote interface type; received concrete type (.+)$`),
		field:     regexp.MustCompile(`^gob: wrong type \((.+)\) for received field (.+)$`),
		noFields:  regexp.MustCompile(`^gob: type mismatch: no fields matched compiling decoder for (.+)$`),
		notStruct: regexp.MustCompile(`^gob: type mismatch in decoder: want struct type \*?(.+); got non-struct$`),
	}
})

type gobErrorPatterns struct{ local, iface, field, noFields, notStruct *regexp.Regexp }

// classify turns a net/rpc server error into the package's error types.
func classify(method, msg, given string) error {
	switch {
	case strings.HasPrefix(msg, "rpc: can't find method "),
		strings.HasPrefix(msg, "rpc: can't find service "),
		strings.HasPrefix(msg, "rpc: service/method request ill-formed"):
		return &wrapped{ErrUnknownMethod, msg}
	case strings.HasPrefix(msg, "gob: "):
		e := &ArgError{Method: method, Given: given, Message: msg}
		re := gobPatterns()
		m := re.local.FindStringSubmatch(msg)
		if m == nil {
			m = re.iface.FindStringSubmatch(msg)
		}
		if m != nil {
			e.Expected = m[1]
			if e.Given == "" {
				e.Given = m[2]
			}
		} else if m := re.noFields.FindStringSubmatch(msg); m != nil {
			e.Expected = m[1]
		} else if m := re.notStruct.FindStringSubmatch(msg); m != nil {
			e.Expected = m[1]
		} else if m := re.field.FindStringSubmatch(msg); m != nil {
			e.Field, e.Expected = fieldName(m[2]), m[1]
		}
		return e
	}
	return &MethodError{Method: method, Message: msg}
}

// fieldName turns gob's "struct { Name string }.Age" or "Person.Age" into
// "Age".
func fieldName(s string) string {
	if i := strings.LastIndex(s, "."); i >= 0 {
		return s[i+1:]
	}
	return s
}

// wrapped is an error with a sentinel and the plugin's message.
type wrapped struct {
	sentinel error
	msg      string
}

func (w *wrapped) Error() string { return w.sentinel.Error() + ": " + w.msg }
func (w *wrapped) Unwrap() error { return w.sentinel }
