package runtime

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "TOKEN=t1", "AWS_A=1", "AWS_B=2", "OTHER=x"}
	started := Options{Env: []string{"MODE=fast"}, AllowEnv: []string{"TOKEN", "AWS_*"}}
	st := &StartedPlugin{Name: "p", Version: "1.0.0", Env: envDigests(ExtraEnv(started, environ))}
	for k, v := range st.Env {
		if strings.Contains(v, "fast") || strings.Contains(v, "t1") || len(v) != 64 {
			t.Errorf("recorded %s=%q: want a SHA-256, not the value", k, v)
		}
	}
	if got := ExtraEnv(started, environ); len(got) != 4 || got["PATH"] != "" || got["AWS_B"] != "2" {
		t.Errorf("ExtraEnv = %v, want MODE, TOKEN, AWS_A and AWS_B only", got)
	}
	if err := st.CheckEnv(started, environ); err != nil {
		t.Errorf("CheckEnv with the same settings = %v", err)
	}
	for _, tc := range []struct {
		opt     Options
		environ []string
		want    string
	}{
		{Options{Env: []string{"MODE=slow"}, AllowEnv: []string{"TOKEN", "AWS_*"}}, environ, "MODE"},
		{Options{Env: []string{"MODE=fast"}, AllowEnv: []string{"AWS_*"}}, environ, "TOKEN"},
		{started, []string{"TOKEN=t2", "AWS_A=1", "AWS_B=2"}, "TOKEN"},
		{Options{Env: []string{"MODE=fast", "NEW=1"}, AllowEnv: []string{"TOKEN", "AWS_*"}}, environ, "NEW"},
	} {
		err := st.CheckEnv(tc.opt, tc.environ)
		var em *EnvMismatchError
		if !errors.As(err, &em) || strings.Join(em.Names, ",") != tc.want {
			t.Errorf("CheckEnv(%+v) = %v, want a mismatch of %s", tc.opt, err, tc.want)
		}
	}
	// A plugin started without extra variables (or by an older plugctl).
	bare := &StartedPlugin{Name: "p", Version: "1.0.0"}
	if err := bare.CheckEnv(Options{AllowEnv: []string{"NOPE"}}, environ); err != nil {
		t.Errorf("CheckEnv of nothing against nothing = %v", err)
	}
}
