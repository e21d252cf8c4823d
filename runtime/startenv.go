package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// ExtraEnv is what opt adds to a plugin's environment beyond what every
// plugin gets (CleanEnv): the variables of environ that opt.AllowEnv names,
// then opt.Env's NAME=VALUE pairs, as NAME → VALUE. Options.InheritEnv is
// not counted: it is a choice of the caller, not of the plugin's settings.
func ExtraEnv(opt Options, environ []string) map[string]string {
	base := map[string]bool{}
	for _, kv := range hostEnv(environ, Options{}) {
		base[kv] = true
	}
	out := map[string]string{}
	for _, kv := range hostEnv(environ, Options{AllowEnv: opt.AllowEnv}) {
		if !base[kv] {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	}
	for _, kv := range opt.Env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func envDigests(env map[string]string) map[string]string {
	if len(env) == 0 {
		return nil
	}
	out := make(map[string]string, len(env))
	for k, v := range env {
		sum := sha256.Sum256([]byte(v))
		out[k] = hex.EncodeToString(sum[:])
	}
	return out
}

// EnvMismatchError is returned by CheckEnv: a started plugin runs with
// other variables than a call asks for, and a running process's
// environment cannot be changed.
type EnvMismatchError struct {
	Name, Version string
	Names         []string // the variables that differ, sorted
}

func (e *EnvMismatchError) Error() string {
	return fmt.Sprintf("%s@%s was started with other values of %s than this call gives: a started plugin keeps the environment it was started with",
		e.Name, e.Version, strings.Join(e.Names, ", "))
}

// CheckEnv compares what opt would add to a plugin's environment (ExtraEnv
// of environ) with what s was started with. A difference is an
// *EnvMismatchError naming the variables.
func (s *StartedPlugin) CheckEnv(opt Options, environ []string) error {
	want := envDigests(ExtraEnv(opt, environ))
	var diff []string
	for k, v := range want {
		if s.Env[k] != v {
			diff = append(diff, k)
		}
	}
	for k := range s.Env {
		if _, ok := want[k]; !ok {
			diff = append(diff, k)
		}
	}
	if len(diff) == 0 {
		return nil
	}
	slices.Sort(diff)
	return &EnvMismatchError{Name: s.Name, Version: s.Version, Names: slices.Compact(diff)}
}
