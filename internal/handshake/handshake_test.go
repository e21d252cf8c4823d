package handshake

import "testing"

func TestReserved(t *testing.T) {
	for _, tc := range []struct {
		name, cookie string
		want         bool
	}{
		{"PLUGIN_MIN_PORT", "K", true},
		{"PLUGIN_CLIENT_CERT", "K", true},
		{"K", "K", true},
		{"TF_PLUGIN_MAGIC_COOKIE", "TF_PLUGIN_MAGIC_COOKIE", true},
		{"TF_PLUGIN_MAGIC_COOKIE", DefaultCookieKey, false},
		{"PLUGINS", "K", false},
		{"HOME", "K", false},
	} {
		if got := Reserved(tc.name, tc.cookie); got != tc.want {
			t.Errorf("Reserved(%q, %q) = %v, want %v", tc.name, tc.cookie, got, tc.want)
		}
	}
}
