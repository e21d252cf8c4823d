// Package gobwire reads and writes encoding/gob streams without Go types:
// type definitions and values become a generic Value, which converts to
// and from JSON. It lets plugctl call a net/rpc go-plugin plugin whose Go
// types it has never seen.
//
// encoding/gob cannot decode into an unknown type, and net/rpc writes a
// request's header and body with one shared gob encoder, so this package
// speaks the whole stream itself (type definitions included) and keeps
// per-stream state: use one Encoder and one Decoder per connection
// direction, as encoding/gob does.
//
// It does not know net/rpc (rpcwire builds the request and response
// headers from Values), does not register names (the plugin's own gob
// registrations decide what an interface{} may hold), and never guesses a
// receiver's Go type: where the JSON inference below is wrong, the caller
// says the type with the explicit form.
//
// # gob to JSON (Decoder, ToJSON)
//
//   - bool, integers, floats, strings: JSON booleans, numbers (integers
//     exactly, all 64 bits; floats in the shortest form that round-trips),
//     strings (invalid UTF-8 replaced by U+FFFD). NaN and infinities,
//     which JSON cannot hold, become the strings "NaN", "+Inf", "-Inf".
//     float32 arrives as float64 (gob sends every float as float64).
//   - complex: {"real": r, "imag": i}.
//   - []byte: a base64 string, as encoding/json writes it.
//   - slices and arrays: JSON arrays ([N]byte too: gob sends it as an
//     array of uints).
//   - maps with string keys: objects; with integer keys: objects whose keys
//     are the decimal numbers (as encoding/json); with any other key type
//     (bool, float, struct, array, interface): an array of
//     {"key": k, "value": v} objects. Keys are sorted (objects by key,
//     pair arrays by the key's JSON) so output is deterministic.
//   - structs: objects with every field the sender's type declared, in
//     declaration order. gob omits zero fields; an omitted field is shown
//     as its zero: false, 0, "" for basic kinds; null for slices, maps,
//     []byte and interfaces (gob does not tell nil from empty); null for a
//     struct, array or GobEncoder field, which gob omits only when the
//     sender's pointer was nil.
//   - interface values: the concrete value, without its registered name;
//     a nil interface is null.
//   - GobEncoder and BinaryMarshaler values (time.Time, for example): the
//     opaque bytes as base64. TextMarshaler values (never sent by current
//     encoding/gob, but part of the format): the text as a string.
//   - Recursive types are supported (a list ends in null).
//
// # JSON to gob (FromJSON, Encoder)
//
// Inference, when nothing says otherwise:
//
//   - empty input or null: a nil interface{}, which is what go-plugin's
//     clients send for methods taking interface{} (the Greeter example
//     sends new(interface{})).
//   - string: string. true/false: bool.
//   - a number written without '.', 'e' or 'E': int if it fits int64,
//     uint64 if only that fits; any other number: float64. A Go receiver
//     with a float64 field needs 1.0, not 1 (gob does not convert int to
//     float); uint receivers need the explicit form.
//   - array: a typed slice when the elements agree ([]string, []int,
//     []float64 when ints and floats mix, []struct{...} when objects
//     agree on shared keys: their fields are merged); otherwise, and for
//     [], []interface{} holding each element under its gob-registered name.
//     A typed slice is what Go receivers nearly always declare; a
//     []interface{} receiver needs {"$gob": "[]interface{}", ...}. null
//     elements of a typed slice become the zero value.
//   - object: a struct whose fields are the keys (which must therefore be
//     the receiver's exported Go field names). Keys whose value is null, []
//     or {} are left out, so the receiver keeps its zero value whatever
//     the field's type. Struct types inferred within one value are merged
//     where they agree (encoding/gob cannot decode two different wire
//     structs into one Go type within one value).
//
// The explicit form says the type:
//
//	{"$gob": "T", "value": V}
//	{"$gob": "interface{}", "value": V, "name": "registered.Name"}
//
// It may appear anywhere a value may. V is read as type T: for []byte a
// base64 string (or an array of numbers); for complex {"real":..,"imag":..}
// or [re, im]; for map[K]V an object (keys parsed as K when K is a string,
// integer, float or bool type) or an array of {"key": k, "value": v}; for
// [N]byte a base64 string or an array. Elements of an explicit container
// are read as its element type, and may themselves be explicit forms; in
// an interface{} position each element is inferred as above and sent under
// the name gob registers its type under ("string", "int", "[]uint8",
// "[]string", "map[string]interface {}"), unless "name" says otherwise. A
// struct inside an interface{} needs "name": the name the plugin passed to
// gob.Register (for gob.Register(Person{}) in package main: "main.Person").
// encoding/gob itself registers only the basic types and slices of them
// ([]int, []string, []uint8, ...): a plugin that should accept, say, a
// map[string]interface{} or []interface{} inside an interface{} must
// gob.Register it; this package cannot make up for a missing registration.
//
// go-plugin's KV example (net/rpc Put takes map[string]interface{} holding
// a string and a []byte):
//
//	{"$gob": "map[string]interface{}", "value": {"key": "k",
//	  "value": {"$gob": "[]byte", "value": "aGVsbG8="}}}
//
// The type grammar (a subset of Go's type syntax):
//
//	T = basic | "[]" T | "[" N "]" T | "map[" T "]" T
//	  | "interface{}" | "interface {}" | "any" | "struct{}"
//	basic = "bool" | "string" | "int" | "int8" | "int16" | "int32" | "int64"
//	  | "uint" | "uint8" | "uint16" | "uint32" | "uint64" | "uintptr"
//	  | "byte" | "rune" | "float32" | "float64" | "complex64" | "complex128"
//
// "[]byte" and "[]uint8" are gob's byte-slice type. Sized integers and
// floats travel as gob's int, uint and float, but are range-checked here
// and registered under their own names inside interface{}. Named struct
// types cannot be written; a struct is given by a JSON object (gob matches
// struct fields by name, not the type's name). Arrays are limited to 2^20
// elements in all.
//
// # Quirks of encoding/gob this package works around
//
//   - A receiver discarding a top-level nil interface (net/rpc does this
//     with the argument of an unknown method) reads past the value and
//     hangs (ignoreInterface does not handle the empty name). The Encoder
//     pads such a value so the discard path ends where it should.
//   - One Go type cannot receive two different wire struct types within
//     one value (the decoder compiles per local type); hence the struct
//     merging above.
//
// # Limits
//
// A Decoder rejects messages over MaxMessage (default 64 MiB), more than
// 2^24 values in one message, nesting deeper than 10000, and any length
// larger than the bytes left in its message, so hostile input cannot make
// it allocate much beyond a constant factor of its size or loop. Encoding
// writes each value's type definitions, then the value, in one Write.
package gobwire
