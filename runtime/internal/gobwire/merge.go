package gobwire

// encoding/gob compiles a decoder per local Go type (decode.go keys its
// in-progress ops by reflect.Type), so one local type must not meet two
// different wire structs inside one value: {"In": {"X": 1.0},
// "List": [{"Y": 2.0}]} for In Inner and List []Inner fails with "field
// numbers out of bounds". mergeStructs therefore folds the anonymous
// struct types inferred from one JSON value into as few types as it can:
// two structs merge when every field name they share has the same type.
// Receivers ignore wire fields they do not have, so the extra fields cost
// nothing but bytes in the type definition.
func mergeStructs(root *Type) *Type {
	for {
		structs := collectStructs(root, nil, map[*Type]bool{})
		a, b := findMergeable(structs)
		if a == nil {
			return root
		}
		m := &Type{Kind: Struct, Fields: append([]Field(nil), a.Fields...)}
		for _, f := range b.Fields {
			if !hasField(m, f.Name) {
				m.Fields = append(m.Fields, f)
			}
		}
		root = replaceType(root, map[*Type]*Type{a: m, b: m}, map[*Type]bool{})
	}
}

func collectStructs(t *Type, out []*Type, seen map[*Type]bool) []*Type {
	if t == nil || seen[t] {
		return out
	}
	seen[t] = true
	out = collectStructs(t.Key, out, seen)
	out = collectStructs(t.Elem, out, seen)
	for _, f := range t.Fields {
		out = collectStructs(f.Type, out, seen)
	}
	if t.Kind == Struct && t.Name == "" {
		out = append(out, t)
	}
	return out
}

func findMergeable(structs []*Type) (*Type, *Type) {
	for i, a := range structs {
		for _, b := range structs[i+1:] {
			if a != b && mergeable(a, b) && !reaches(a, b, map[*Type]bool{}) && !reaches(b, a, map[*Type]bool{}) {
				return a, b
			}
		}
	}
	return nil, nil
}

func mergeable(a, b *Type) bool {
	for _, fa := range a.Fields {
		for _, fb := range b.Fields {
			if fa.Name == fb.Name && fa.Type.String() != fb.Type.String() {
				return false
			}
		}
	}
	return true
}

func replaceType(t *Type, repl map[*Type]*Type, seen map[*Type]bool) *Type {
	if t == nil {
		return nil
	}
	if r, ok := repl[t]; ok {
		t = r
	}
	if seen[t] {
		return t
	}
	seen[t] = true
	switch t.Kind {
	case Slice, Array, Map:
		c := *t
		c.Key = replaceType(t.Key, repl, seen)
		c.Elem = replaceType(t.Elem, repl, seen)
		if c.Key != t.Key || c.Elem != t.Elem {
			return &c
		}
	case Struct:
		for i, f := range t.Fields {
			t.Fields[i].Type = replaceType(f.Type, repl, seen)
		}
	}
	return t
}

// reaches reports whether from contains to: merging those would make a
// recursive type out of a JSON tree.
func reaches(from, to *Type, seen map[*Type]bool) bool {
	if from == nil || seen[from] {
		return false
	}
	if from == to {
		return true
	}
	seen[from] = true
	if reaches(from.Key, to, seen) || reaches(from.Elem, to, seen) {
		return true
	}
	for _, f := range from.Fields {
		if reaches(f.Type, to, seen) {
			return true
		}
	}
	return false
}
