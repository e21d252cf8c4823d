package cmd_test

import (
	"sync"
	"sync/atomic"
)

type syncMap struct{ m sync.Map }

func (s *syncMap) Store(k string, v *atomic.Int64) { s.m.Store(k, v) }
func (s *syncMap) Load(k string) (*atomic.Int64, bool) {
	v, ok := s.m.Load(k)
	if !ok {
		return nil, false
	}
	return v.(*atomic.Int64), true
}

type stringMap struct{ m sync.Map }

func (s *stringMap) Store(k, v string) { s.m.Store(k, v) }
func (s *stringMap) Load(k string) (string, bool) {
	v, ok := s.m.Load(k)
	if !ok {
		return "", false
	}
	return v.(string), true
}
