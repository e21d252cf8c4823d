//go:build unix

package runtime

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugctl/plugctl/store"
)

var (
	hijackOnce sync.Once
	hijackBin  string
	hijackErr  error
)

// hijackPlugin builds testdata/plugins/rogue in its hijack mode: its
// handshake names the address in $PLUGCTL_TEST_HIJACK.
func hijackPlugin(t *testing.T) string {
	t.Helper()
	hijackOnce.Do(func() {
		hijackBin = filepath.Join(filepath.Dir(goodBin), "rogue-hijack")
		c := exec.Command("go", "build", "-ldflags", "-X main.mode=hijack", "-o", hijackBin, "./testdata/plugins/rogue")
		c.Dir = ".."
		if out, err := c.CombinedOutput(); err != nil {
			hijackErr = errors.New(string(out))
		}
	})
	if hijackErr != nil {
		t.Fatalf("build rogue-hijack: %v", hijackErr)
	}
	return hijackBin
}

// A plugin whose handshake names another plugin's unix socket, or a TCP
// port another process listens on, is refused before anything dials the
// address (a *PluginError wrapping errForeignAddr: exit 5), its process
// group is killed, and the process it pointed at is neither called nor
// shut down.
func TestHandshakeNamingAnotherAddress(t *testing.T) {
	t.Parallel()
	home := exampleHome(t)
	bin := hijackPlugin(t)
	if err := installFake(home, bin, "hijack", "1.0.0", store.Protocol{}, true); err != nil {
		t.Fatal(err)
	}
	victim := startedTB(t, home, "kv")
	r, err := home.ReadReceipt("hijack", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}

	// A TCP listener of the test's own: it must never see a connection.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()

	for _, tc := range []struct{ name, addr string }{
		{"unix socket of a started plugin", "unix|" + victim.Address},
		{"TCP port of another process", "tcp|" + l.Addr().String()},
	} {
		for _, how := range []string{"Launch", "Start"} {
			opt := Options{Home: home, Env: []string{"PLUGCTL_TEST_HIJACK=" + tc.addr}}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var err error
			var pid int
			switch how {
			case "Launch":
				var p *Plugin
				p, err = Launch(ctx, SpecFromReceipt(home, r), opt)
				if p != nil {
					pid = p.Pid()
					p.Close()
				}
			case "Start":
				var st *StartedPlugin
				st, _, err = Start(ctx, SpecFromReceipt(home, r), opt)
				if st != nil {
					pid = st.Pid
					Stop(context.Background(), home, "hijack", "1.0.0")
				}
			}
			cancel()
			var pe *PluginError
			if !errors.As(err, &pe) || !errors.Is(err, errForeignAddr) {
				t.Errorf("%s, %s: got %v (pid %d); want a *PluginError refusing the address", how, tc.name, err, pid)
			}
			if _, err := ReadStarted(home, "hijack", "1.0.0"); !errors.Is(err, ErrNotStarted) {
				t.Errorf("%s, %s: a run record is left: %v", how, tc.name, err)
			}
			// The victim still runs and answers.
			if !victim.Alive() {
				t.Fatalf("%s, %s: the started plugin it named was shut down", how, tc.name)
			}
			p, attached, err := AttachReceipt(ctxT(t, 20*time.Second), home, mustReceipt(t, home, "kv"), Options{Home: home})
			if err != nil || !attached {
				t.Fatalf("%s, %s: the started plugin it named no longer answers: %v %v", how, tc.name, attached, err)
			}
			if err := p.Ping(ctxT(t, 10*time.Second)); err != nil {
				t.Errorf("%s, %s: ping the started plugin: %v", how, tc.name, err)
			}
			p.Close()
			if n := accepted.Load(); n != 0 {
				t.Errorf("%s, %s: the TCP listener was dialled %d times", how, tc.name, n)
			}
		}
	}
	// Every hijack process is gone (its group killed), none left behind.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if len(envProcsOfExe(t, home, "hijack")) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hijack processes still run: %v", envProcsOfExe(t, home, "hijack"))
		}
	}
}

func mustReceipt(t *testing.T, home store.Paths, name string) *store.Receipt {
	t.Helper()
	r, err := home.ReadReceipt(name, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// envProcsOfExe lists the live processes running name's executable of
// home (Linux; elsewhere none are found).
func envProcsOfExe(t *testing.T, home store.Paths, name string) []int {
	r := mustReceipt(t, home, name)
	exe, _ := filepath.EvalSymlinks(home.Exe(r))
	var out []int
	for _, pid := range allPids() {
		if l, err := readlinkExe(pid); err == nil && l == exe && processAlive(pid, 0) {
			out = append(out, pid)
		}
	}
	return out
}
