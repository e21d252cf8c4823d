package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// Reinstall fetches from the receipt's source against the receipt's hash,
// replaces the files in place and keeps the active version; other bytes at
// the source leave the installed version as it was.
func TestReinstall(t *testing.T) {
	in, src, sum := testInstaller(t)
	ctx := context.Background()
	proto := store.Protocol{Kind: store.KindGRPC, CookieValue: "c1"}
	req := Request{Name: "tool", Version: "1.0.0", Source: src, SHA256: sum, Platform: "linux/amd64", Protocol: proto}
	if _, err := in.Install(ctx, req); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(in.Paths.PkgDir("tool", "1.0.0"), "tool")
	if err := os.WriteFile(exe, []byte("tampered"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := in.Reinstall(ctx, "tool", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Replaced || res.Receipt.Protocol.CookieValue != "c1" || res.Receipt.Protocol.Kind != store.KindGRPC {
		t.Errorf("Reinstall = %+v, want the version replaced with its recorded protocol", res)
	}
	r, err := in.Paths.ReadReceipt("tool", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if c := in.Verify(r); len(c.Problems) > 0 {
		t.Errorf("after Reinstall: %v", c.Problems)
	}
	if a, _ := in.Paths.Active("tool"); a != "1.0.0" {
		t.Errorf("active = %q, want 1.0.0", a)
	}

	// The source now delivers other bytes: refused, nothing changed.
	before, _ := os.ReadFile(exe)
	if err := os.WriteFile(src, []byte("other"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = in.Reinstall(ctx, "tool", "1.0.0")
	var mm *verify.MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("Reinstall of other bytes = %v, want a MismatchError", err)
	}
	if after, _ := os.ReadFile(exe); string(after) != string(before) {
		t.Errorf("a refused reinstall changed the executable")
	}
	entries, _ := os.ReadDir(in.Paths.Tmp())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "tool@") {
			t.Errorf("left in tmp/: %s", e.Name())
		}
	}

	if _, err := in.Reinstall(ctx, "tool", "9.9.9"); !errors.Is(err, store.ErrNotInstalled) {
		t.Errorf("Reinstall of a version not installed = %v, want ErrNotInstalled", err)
	}
}

func TestReceiptRequest(t *testing.T) {
	for _, tc := range []struct {
		r       store.Receipt
		wantBin string
	}{
		{store.Receipt{Name: "a", Bin: "a"}, ""},                                // a bare binary
		{store.Receipt{Name: "a", Bin: "bin/a", ArtifactBin: "bin/a"}, "bin/a"}, // an archive with bin
		{store.Receipt{Name: "a", Bin: "bin/a"}, "bin/a"},                       // a receipt without artifactBin
		{store.Receipt{Name: "a", Bin: "a", ArtifactBin: "a"}, "a"},             // a repository whose bin is the name
	} {
		if got := ReceiptRequest(&tc.r).Bin; got != tc.wantBin {
			t.Errorf("ReceiptRequest(%+v).Bin = %q, want %q", tc.r, got, tc.wantBin)
		}
	}
	r := &store.Receipt{Name: "a", Protocol: store.Protocol{Schema: &store.Schema{URL: "https://x/s.protoset", SHA256: "ab", Path: "schema.protoset"}}}
	req := ReceiptRequest(r)
	if req.SchemaSource != "https://x/s.protoset" || req.Protocol.Schema.Path != "" || r.Protocol.Schema.Path == "" {
		t.Errorf("ReceiptRequest schema = %q %+v, want the recorded URL, and the receipt untouched", req.SchemaSource, req.Protocol.Schema)
	}
}

func TestDifferences(t *testing.T) {
	r := &store.Receipt{Name: "a", Source: "s", ArtifactSHA256: "AB", Protocol: store.Protocol{CookieValue: "c1"}}
	if d := Differences(r, Request{Name: "a", Source: "s", SHA256: "ab", Protocol: store.Protocol{CookieValue: "c1", Kind: "auto"}}); len(d) != 0 {
		t.Errorf("Differences of the same settings = %v, want none", d)
	}
	d := Differences(r, Request{Name: "a", Source: "s", SHA256: "ab", Protocol: store.Protocol{CookieValue: "c2"}})
	if len(d) != 1 || d[0] != "--cookie-value c2 (was c1)" {
		t.Errorf("Differences = %q, want the cookie value", d)
	}
	// A schema given with the install (--proto/--protoset) that is not
	// the one kept.
	set := []byte("a schema set")
	d = Differences(r, Request{Name: "a", Source: "s", SHA256: "ab", Protocol: store.Protocol{CookieValue: "c1"}, SchemaSet: set})
	if want := "schema " + schemaSum(set) + " (installed: none)"; len(d) != 1 || d[0] != want {
		t.Errorf("Differences = %q, want %q", d, want)
	}
	r.Protocol.Schema = &store.Schema{SHA256: strings.ToUpper(schemaSum(set)), Path: SchemaFile}
	if d := Differences(r, Request{Name: "a", Source: "s", SHA256: "ab", Protocol: store.Protocol{CookieValue: "c1"}, SchemaSet: set}); len(d) != 0 {
		t.Errorf("Differences with the kept schema = %q, want none", d)
	}
}
