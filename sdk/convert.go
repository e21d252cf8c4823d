package sdk

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// The converters below walk a Go value and a protoreflect.Message built from
// the descriptors that schema.go generated for the value's type, so the two
// always agree on shape; errors come only from values that do not fit
// (an int8 given 300, a JSON document that is not valid for an `any`).

// toMessage stores Go value v into m, whose descriptor was generated for
// v's type (at the top level: a wrapper, a well-known type, a struct's
// message, or a message whose field 1 holds a slice or map).
func toMessage(m protoreflect.Message, v reflect.Value) error {
	t := v.Type()
	switch {
	case t == typeTime:
		ts := v.Interface().(time.Time)
		fs := m.Descriptor().Fields()
		m.Set(fs.ByName("seconds"), protoreflect.ValueOfInt64(ts.Unix()))
		m.Set(fs.ByName("nanos"), protoreflect.ValueOfInt32(int32(ts.Nanosecond())))
		return nil
	case t == typeDuration:
		d := time.Duration(v.Int())
		fs := m.Descriptor().Fields()
		m.Set(fs.ByName("seconds"), protoreflect.ValueOfInt64(int64(d/time.Second)))
		m.Set(fs.ByName("nanos"), protoreflect.ValueOfInt32(int32(d%time.Second)))
		return nil
	case t.Kind() == reflect.Interface:
		return anyToValue(m, v)
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return toMessage(m, v.Elem())
	case t.Kind() == reflect.Struct:
		fields, err := structFields(t)
		if err != nil {
			return err
		}
		fs := m.Descriptor().Fields()
		for _, sf := range fields {
			if err := setField(m, fs.ByName(protoreflect.Name(sf.name)), v.FieldByIndex(sf.index)); err != nil {
				return fmt.Errorf("%s: %w", sf.name, err)
			}
		}
		return nil
	}
	// A scalar in a wrapper, or a slice or map in the field "value".
	return setField(m, m.Descriptor().Fields().ByNumber(1), v)
}

func setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v reflect.Value) error {
	switch {
	case fd.IsList():
		if v.Len() == 0 {
			return nil
		}
		l := m.Mutable(fd).List()
		for i := range v.Len() {
			e, err := elemValue(fd, v.Index(i), l.NewElement)
			if err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
			l.Append(e)
		}
		return nil
	case fd.IsMap():
		if v.Len() == 0 {
			return nil
		}
		mp := m.Mutable(fd).Map()
		iter := v.MapRange()
		for iter.Next() {
			k, err := scalarValue(fd.MapKey(), iter.Key())
			if err != nil {
				return err
			}
			e, err := elemValue(fd.MapValue(), iter.Value(), mp.NewValue)
			if err != nil {
				return fmt.Errorf("[%v]: %w", iter.Key(), err)
			}
			mp.Set(k.MapKey(), e)
		}
		return nil
	case fd.Message() != nil:
		// Absent stays absent: nil pointers and interfaces, and the zero
		// time.Time (which decodes back to the zero time.Time).
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return nil
		}
		if v.Type() == typeTime && v.Interface().(time.Time).IsZero() {
			return nil
		}
		return toMessage(m.Mutable(fd).Message(), v)
	}
	if isZero(v) {
		return nil // proto3 does not store default values
	}
	pv, err := scalarValue(fd, v)
	if err != nil {
		return err
	}
	m.Set(fd, pv)
	return nil
}

func isZero(v reflect.Value) bool {
	return v.IsZero() || (isBytes(v.Type()) && v.Len() == 0)
}

// elemValue converts one list element or map value.
func elemValue(fd protoreflect.FieldDescriptor, v reflect.Value, newMsg func() protoreflect.Value) (protoreflect.Value, error) {
	if fd.Message() == nil {
		return scalarValue(fd, v)
	}
	e := newMsg()
	if err := toMessage(e.Message(), v); err != nil {
		return protoreflect.Value{}, err
	}
	return e, nil
}

func scalarValue(fd protoreflect.FieldDescriptor, v reflect.Value) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(v.Bool()), nil
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(v.String()), nil
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(v.Bytes()), nil
	case protoreflect.Int64Kind:
		return protoreflect.ValueOfInt64(v.Int()), nil
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(int32(v.Int())), nil
	case protoreflect.Uint64Kind:
		return protoreflect.ValueOfUint64(v.Uint()), nil
	case protoreflect.Uint32Kind:
		return protoreflect.ValueOfUint32(uint32(v.Uint())), nil
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(v.Float())), nil
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(v.Float()), nil
	}
	return protoreflect.Value{}, fmt.Errorf("unexpected field kind %s", fd.Kind())
}

// anyToValue stores an `any` into a google.protobuf.Value the way
// encoding/json would render it.
func anyToValue(m protoreflect.Message, v reflect.Value) error {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return err
	}
	var sv structpb.Value
	if err := sv.UnmarshalJSON(b); err != nil {
		return err
	}
	return copyInto(m, &sv)
}

// copyInto copies a generated message into a dynamic one of the same type.
func copyInto(dst protoreflect.Message, src proto.Message) error {
	b, err := proto.Marshal(src)
	if err != nil {
		return err
	}
	return proto.UnmarshalOptions{Merge: true}.Unmarshal(b, dst.Interface())
}

// fromMessage stores m into the settable Go value v; the reverse of toMessage.
func fromMessage(m protoreflect.Message, v reflect.Value) error {
	t := v.Type()
	switch {
	case t == typeTime:
		fs := m.Descriptor().Fields()
		sec := m.Get(fs.ByName("seconds")).Int()
		nsec := m.Get(fs.ByName("nanos")).Int()
		v.Set(reflect.ValueOf(time.Unix(sec, nsec).UTC()))
		return nil
	case t == typeDuration:
		fs := m.Descriptor().Fields()
		sec := m.Get(fs.ByName("seconds")).Int()
		nsec := m.Get(fs.ByName("nanos")).Int()
		v.SetInt(int64(time.Duration(sec)*time.Second + time.Duration(nsec)))
		return nil
	case t.Kind() == reflect.Interface:
		b, err := proto.Marshal(m.Interface())
		if err != nil {
			return err
		}
		var sv structpb.Value
		if err := proto.Unmarshal(b, &sv); err != nil {
			return err
		}
		if x := sv.AsInterface(); x != nil {
			v.Set(reflect.ValueOf(x))
		}
		return nil
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := fromMessage(m, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case t.Kind() == reflect.Struct:
		fields, err := structFields(t)
		if err != nil {
			return err
		}
		fs := m.Descriptor().Fields()
		for _, sf := range fields {
			fv, err := fieldByIndexAlloc(v, sf.index)
			if err != nil {
				return err
			}
			if err := getField(m, fs.ByName(protoreflect.Name(sf.name)), fv); err != nil {
				return fmt.Errorf("%s: %w", sf.name, err)
			}
		}
		return nil
	}
	return getField(m, m.Descriptor().Fields().ByNumber(1), v)
}

// fieldByIndexAlloc is reflect.Value.FieldByIndex for settable values
// (embedded structs are values, never pointers, so nothing is allocated).
func fieldByIndexAlloc(v reflect.Value, index []int) (reflect.Value, error) {
	for _, i := range index {
		v = v.Field(i)
	}
	if !v.CanSet() {
		return v, fmt.Errorf("field %v of %s cannot be set", index, v.Type())
	}
	return v, nil
}

func getField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v reflect.Value) error {
	switch {
	case fd.IsList():
		l := m.Get(fd).List()
		if l.Len() == 0 {
			return nil
		}
		s := reflect.MakeSlice(v.Type(), l.Len(), l.Len())
		for i := range l.Len() {
			if err := elemFrom(fd, l.Get(i), s.Index(i)); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		v.Set(s)
		return nil
	case fd.IsMap():
		mp := m.Get(fd).Map()
		out := reflect.MakeMapWithSize(v.Type(), mp.Len())
		var err error
		mp.Range(func(k protoreflect.MapKey, val protoreflect.Value) bool {
			kv := reflect.New(v.Type().Key()).Elem()
			if err = setScalar(kv, k.Value()); err != nil {
				return false
			}
			ev := reflect.New(v.Type().Elem()).Elem()
			if err = elemFrom(fd.MapValue(), val, ev); err != nil {
				err = fmt.Errorf("[%v]: %w", k.Interface(), err)
				return false
			}
			out.SetMapIndex(kv, ev)
			return true
		})
		if err != nil {
			return err
		}
		v.Set(out)
		return nil
	case fd.Message() != nil:
		if !m.Has(fd) {
			return nil
		}
		return fromMessage(m.Get(fd).Message(), v)
	}
	return setScalar(v, m.Get(fd))
}

func elemFrom(fd protoreflect.FieldDescriptor, pv protoreflect.Value, v reflect.Value) error {
	if fd.Message() != nil {
		return fromMessage(pv.Message(), v)
	}
	return setScalar(v, pv)
}

// setScalar stores a protobuf scalar in a Go scalar, refusing values that
// do not fit its width.
func setScalar(v reflect.Value, pv protoreflect.Value) error {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(pv.Bool())
	case reflect.String:
		v.SetString(pv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := pv.Int()
		if v.OverflowInt(n) {
			return fmt.Errorf("value %d overflows %s", n, v.Type())
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := pv.Uint()
		if v.OverflowUint(n) {
			return fmt.Errorf("value %d overflows %s", n, v.Type())
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(pv.Float())
	case reflect.Slice: // []byte
		b := pv.Bytes()
		if len(b) == 0 {
			return nil
		}
		v.SetBytes(append([]byte(nil), b...))
	default:
		return fmt.Errorf("unexpected Go kind %s", v.Kind())
	}
	return nil
}
