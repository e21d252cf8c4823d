package install

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/plugctl/plugctl/store"
)

// Installed lists each plugin's versions newest first, in the order of the
// names, marks the active one, and with requireEach refuses a name with
// nothing installed.
func TestInstalled(t *testing.T) {
	in, src, sum := testInstaller(t)
	ctx := context.Background()
	for _, v := range []string{"1.0.0", "2.0.0"} {
		if _, err := in.Install(ctx, Request{Name: "tool", Version: v, Source: src, SHA256: sum, Index: "main"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.Use(ctx, "tool", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	got, err := Installed(in.Paths, []string{"absent", "tool"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Version != "2.0.0" || got[1].Version != "1.0.0" {
		t.Fatalf("Installed = %+v, want tool 2.0.0 then 1.0.0", got)
	}
	if got[0].Active || !got[1].Active {
		t.Errorf("active: 2.0.0 %v, 1.0.0 %v; want only 1.0.0", got[0].Active, got[1].Active)
	}
	r, err := in.Paths.ReadReceipt("tool", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if g := got[1]; g.Name != "tool" || g.Path != in.Paths.Exe(r) || g.SHA256 != r.BinSHA256 || g.Index != "main" ||
		g.Source != src || g.Protocol != r.Protocol.WithDefaults("tool").Kind || !g.InstalledAt.Equal(r.InstalledAt) {
		t.Errorf("Installed[1] = %+v, does not match its receipt %+v", g, r)
	}

	if _, err := Installed(in.Paths, []string{"tool", "absent"}, true); !errors.Is(err, store.ErrNotInstalled) {
		t.Errorf("requireEach with absent: err = %v, want ErrNotInstalled", err)
	}
	if _, err := Installed(in.Paths, []string{"Bad Name"}, false); err == nil {
		t.Error("an invalid name: no error")
	}
	if got, err := Installed(in.Paths, nil, false); err != nil || got == nil || len(got) != 0 {
		t.Errorf("no names = %v, %v; want an empty, non-nil list", got, err)
	}
}

// With many plugins, read by several goroutines, the rows still come in
// the order of the names.
func TestInstalledManyKeepsOrder(t *testing.T) {
	in, src, sum := testInstaller(t)
	ctx := context.Background()
	var names []string
	for i := range 70 {
		n := fmt.Sprintf("p%02d", i)
		names = append(names, n)
		if _, err := in.Install(ctx, Request{Name: n, Version: "1.0.0", Source: src, SHA256: sum}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Installed(in.Paths, names, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(names) {
		t.Fatalf("%d rows, want %d", len(got), len(names))
	}
	for i, g := range got {
		if g.Name != names[i] || !g.Active {
			t.Errorf("row %d = %s active %v, want %s active", i, g.Name, g.Active, names[i])
		}
	}
}
