package store

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	good := []string{"greeter", "kv2", "a", "my.plugin_x-1", "0day", strings.Repeat("a", 64)}
	bad := []string{"", ".", "..", "../x", "a/b", "Greeter", "-x", ".x", "_x", "a b", "a\x00", strings.Repeat("a", 65), "é"}
	for _, n := range good {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidName(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalidName", n, err)
		}
	}
}

func TestReceiptsAndActive(t *testing.T) {
	p, _ := New(t.TempDir())
	for _, v := range []string{"1.2.0", "1.10.0", "0.9.0"} {
		r := &Receipt{Schema: ReceiptSchema, Name: "g", Version: v, Bin: "g"}
		b, _ := MarshalReceipt(r)
		os.MkdirAll(p.VersionDir("g", v), 0o755)
		os.WriteFile(p.ReceiptFile("g", v), b, 0o644)
	}
	os.MkdirAll(p.VersionDir("g", "2.0.0"), 0o755) // no receipt: not installed
	os.MkdirAll(p.VersionDir("g", "3.0.0"), 0o755)
	os.WriteFile(p.ReceiptFile("g", "3.0.0"), []byte("{corrupt"), 0o644)

	rs, err := p.Versions("g")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Version)
	}
	if strings.Join(got, " ") != "1.10.0 1.2.0 0.9.0" {
		t.Errorf("Versions = %v", got)
	}
	if _, err := p.ReadReceipt("g", "3.0.0"); !errors.Is(err, ErrNotInstalled) || !errors.Is(err, ErrBadReceipt) {
		t.Errorf("corrupt receipt: %v", err)
	}
	if a, _ := p.Active("g"); a != "" {
		t.Errorf("active before set: %q", a)
	}
	p.SetActive("g", "1.2.0")
	if a, _ := p.Active("g"); a != "1.2.0" {
		t.Errorf("active = %q", a)
	}
	p.SetActive("g", "2.0.0") // not installed: reads as none
	if a, _ := p.Active("g"); a != "" {
		t.Errorf("active names an uninstalled version: %q", a)
	}
}

func TestProtocolJSON(t *testing.T) {
	var v ProtocolVersions
	if err := v.UnmarshalJSON([]byte("[2, 3]")); err != nil || len(v) != 2 {
		t.Fatalf("list: %v %v", v, err)
	}
	if err := v.UnmarshalJSON([]byte("4")); err != nil || len(v) != 1 || v[0] != 4 {
		t.Fatalf("number: %v %v", v, err)
	}
	if err := v.UnmarshalJSON([]byte(`"x"`)); err == nil {
		t.Fatal("string accepted")
	}
	var m MTLSMode
	m.UnmarshalJSON([]byte("true"))
	if m != MTLSTrue {
		t.Errorf("mtls true = %q", m)
	}
	d := Protocol{}.WithDefaults("kv")
	if d.Kind != KindAuto || d.Dispense != "kv" || d.CookieKey != "PLUGCTL_PLUGIN" || d.CookieValue != "plugctl" || d.Versions.String() != "1" || d.MTLS != MTLSAuto {
		t.Errorf("defaults = %+v", d)
	}
}

// A version that is a path names no installed version, whatever receipt
// lies where the path leads.
func TestReadReceiptVersionIsNoPath(t *testing.T) {
	home := t.TempDir()
	p, _ := New(home)
	outside := home + "/outside"
	os.MkdirAll(outside, 0o755)
	b, _ := MarshalReceipt(&Receipt{Schema: ReceiptSchema, Name: "g", Version: "../../outside", Bin: "g"})
	os.WriteFile(outside+"/receipt.json", b, 0o644)
	for _, v := range []string{"../../outside", "", ".", "..", `a\b`} {
		if _, err := p.ReadReceipt("g", v); !errors.Is(err, ErrNotInstalled) {
			t.Errorf("ReadReceipt(g, %q) = %v, want ErrNotInstalled", v, err)
		}
	}
}

// SortReceipts must order by semver precedence, as Masterminds/semver does
// for resolution: numerically, a pre-release before its release, build
// metadata ignored (a stable sort keeps their order).
func TestSortReceipts(t *testing.T) {
	in := []string{"1.9.0", "1.10.0", "1.10.0-rc.2", "1.10.0-rc.10", "1.10.0-alpha", "0.1.0", "2.0.0+build.1", "10.0.0", "not-semver"}
	want := []string{"10.0.0", "2.0.0+build.1", "1.10.0", "1.10.0-rc.10", "1.10.0-rc.2", "1.10.0-alpha", "1.9.0", "0.1.0", "not-semver"}
	rs := make([]*Receipt, len(in))
	for i, v := range in {
		rs[i] = &Receipt{Version: v}
	}
	SortReceipts(rs)
	var got []string
	for _, r := range rs {
		got = append(got, r.Version)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("SortReceipts:\n got %v\nwant %v", got, want)
	}
}
