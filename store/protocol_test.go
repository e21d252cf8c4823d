package store

import (
	"strings"
	"testing"
)

// The cookie is one variable of the plugin's environment: a key that is
// not a name, or that is one of go-plugin's own, would be set twice or
// overridden.
func TestProtocolValidateCookie(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		bad        string
	}{
		{"", "", ""},
		{"BASIC_PLUGIN", "hello", ""},
		{"PLUGCTL_PLUGIN", "a=b c", ""},
		{"PLUGIN_MIN_PORT", "x", "cookieKey"},
		{"PLUGIN_", "x", "cookieKey"},
		{"LANG=x", "y", "cookieKey"},
		{"A\x00B", "y", "cookieKey"},
		{"KEY", "a\x00b", "cookieValue"},
	} {
		err := Protocol{CookieKey: tc.key, CookieValue: tc.value}.Validate()
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%q=%q: %v", tc.key, tc.value, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%q=%q: %v, want an error about %s", tc.key, tc.value, err, tc.bad)
		}
	}
}

// TestProtocolChanges: every handshake setting is compared, defaults
// applied first make an unset field equal its default.
func TestProtocolChanges(t *testing.T) {
	a := Protocol{}.WithDefaults("p")
	if c := a.Changes(Protocol{Dispense: "p"}.WithDefaults("x")); len(c) != 0 {
		t.Errorf("same protocol after defaults: %v", c)
	}
	b := Protocol{Kind: KindGRPC, Versions: ProtocolVersions{2}, CookieKey: "K", CookieValue: "V", Dispense: "d", MTLS: MTLSTrue}.WithDefaults("p")
	var fields []string
	for _, c := range a.Changes(b) {
		fields = append(fields, c.Field)
	}
	if got := strings.Join(fields, " "); got != "kind version cookieKey cookieValue dispense mtls" {
		t.Errorf("changed fields %q", got)
	}
}
