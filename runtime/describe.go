package runtime

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Description is what a plugin offers, as `plugctl describe -o json` prints
// it. Field names are stable; fields are only ever added.
type Description struct {
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Protocol string    `json:"protocol"` // "grpc"
	Schema   string    `json:"schema"`   // where the schema came from: "reflection", "proto" or "protoset"
	Services []Service `json:"services"`
	// Messages holds every message type reachable from a request or
	// response, by full name; fields refer to them by name, which keeps
	// recursive types finite.
	Messages map[string]*Message `json:"messages"`
	Enums    map[string]*Enum    `json:"enums"`
}

// Service is one gRPC service of the plugin (go-plugin's and gRPC's own
// services are left out).
type Service struct {
	Name    string   `json:"name"` // full name, e.g. "proto.KV"
	Methods []Method `json:"methods"`
}

// Method is one method of a service.
type Method struct {
	Name            string `json:"name"`     // e.g. "Get"
	FullName        string `json:"fullName"` // e.g. "proto.KV/Get", accepted by Call
	Request         string `json:"request"`  // message full name, a key of Messages
	Response        string `json:"response"`
	ClientStreaming bool   `json:"clientStreaming"`
	ServerStreaming bool   `json:"serverStreaming"`
	// Kind names the combination of the two: unary, server-streaming,
	// client-streaming or bidirectional.
	Kind MethodKind `json:"kind"`
}

// Message is the shape of a message type.
type Message struct {
	Fields []Field `json:"fields"`
}

// Field is one field of a message.
type Field struct {
	Name     string `json:"name"`     // as in the .proto file
	JSONName string `json:"jsonName"` // as in the JSON mapping (both are accepted in arguments)
	Number   int32  `json:"number"`
	// Type is a protobuf scalar type ("string", "int64", "bool", "bytes",
	// "double", …), or "message", "enum" or "map".
	Type     string   `json:"type"`
	Repeated bool     `json:"repeated,omitempty"`
	Optional bool     `json:"optional,omitempty"` // explicit presence (proto3 optional, proto2 optional)
	Oneof    string   `json:"oneof,omitempty"`
	Message  string   `json:"message,omitempty"` // full name, when Type is "message"
	Enum     string   `json:"enum,omitempty"`    // full name, when Type is "enum"
	Map      *MapType `json:"map,omitempty"`     // when Type is "map"
}

// MapType is the key and value of a map field.
type MapType struct {
	Key     string `json:"key"`
	Value   string `json:"value"` // as Field.Type
	Message string `json:"message,omitempty"`
	Enum    string `json:"enum,omitempty"`
}

// Enum is the values of an enum type.
type Enum struct {
	Values []EnumValue `json:"values"`
}

// EnumValue is one value of an enum.
type EnumValue struct {
	Name   string `json:"name"`
	Number int32  `json:"number"`
}

// Describe returns the plugin's services, methods and message shapes, from
// the same schema a Call would use.
func (p *Plugin) Describe(ctx context.Context, co CallOptions) (*Description, error) {
	if p.proto != ProtocolGRPC {
		return nil, fmt.Errorf("plugin %s speaks %s, which has no schema to describe: %w", p.spec.Name, p.proto, ErrUnsupported)
	}
	s, err := p.schemaFor(ctx, co, "")
	if err != nil {
		return nil, err
	}
	d := describeSchema(s)
	d.Name, d.Version, d.Protocol = p.spec.Name, p.spec.Version, p.proto
	return d, nil
}

func describeSchema(s *schema) *Description {
	d := &Description{Schema: s.source, Services: []Service{}, Messages: map[string]*Message{}, Enums: map[string]*Enum{}}
	for _, sd := range s.services {
		if internalServices[string(sd.FullName())] {
			continue
		}
		svc := Service{Name: string(sd.FullName()), Methods: []Method{}}
		for i := 0; i < sd.Methods().Len(); i++ {
			m := sd.Methods().Get(i)
			svc.Methods = append(svc.Methods, Method{
				Name:            string(m.Name()),
				FullName:        string(sd.FullName()) + "/" + string(m.Name()),
				Request:         string(m.Input().FullName()),
				Response:        string(m.Output().FullName()),
				ClientStreaming: m.IsStreamingClient(),
				ServerStreaming: m.IsStreamingServer(),
				Kind:            kindOf(m),
			})
			d.addMessage(m.Input())
			d.addMessage(m.Output())
		}
		d.Services = append(d.Services, svc)
	}
	return d
}

func (d *Description) addMessage(md protoreflect.MessageDescriptor) {
	name := string(md.FullName())
	if _, ok := d.Messages[name]; ok {
		return
	}
	msg := &Message{Fields: []Field{}}
	d.Messages[name] = msg
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		f := Field{
			Name:     string(fd.Name()),
			JSONName: fd.JSONName(),
			Number:   int32(fd.Number()),
			Repeated: fd.IsList(),
			Optional: fd.HasOptionalKeyword(),
		}
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
			f.Oneof = string(o.Name())
		}
		if fd.IsMap() {
			f.Type = "map"
			k, v := fd.MapKey(), fd.MapValue()
			f.Map = &MapType{Key: k.Kind().String(), Value: kindName(v)}
			f.Map.Message, f.Map.Enum = d.refs(v)
		} else {
			f.Type = kindName(fd)
			f.Message, f.Enum = d.refs(fd)
		}
		msg.Fields = append(msg.Fields, f)
	}
}

func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "message"
	case protoreflect.EnumKind:
		return "enum"
	}
	return fd.Kind().String()
}

// refs records the message or enum a field refers to and returns its name.
func (d *Description) refs(fd protoreflect.FieldDescriptor) (msg, enum string) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		d.addMessage(fd.Message())
		return string(fd.Message().FullName()), ""
	case protoreflect.EnumKind:
		ed := fd.Enum()
		name := string(ed.FullName())
		if _, ok := d.Enums[name]; !ok {
			e := &Enum{Values: []EnumValue{}}
			for i := 0; i < ed.Values().Len(); i++ {
				v := ed.Values().Get(i)
				e.Values = append(e.Values, EnumValue{Name: string(v.Name()), Number: int32(v.Number())})
			}
			d.Enums[name] = e
		}
		return "", name
	}
	return "", ""
}
