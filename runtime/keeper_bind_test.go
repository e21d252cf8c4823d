//go:build unix

package runtime

import (
	"context"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugctl/plugctl/internal/keepwire"
	"github.com/plugctl/plugctl/store"
)

// Keepers that start at once: exactly one binds the socket, the others
// find it answering and step aside; none removes the socket another bound.
func TestKeepersStartingAtOnce(t *testing.T) {
	home := store.Paths{Home: t.TempDir()}
	if _, err := home.EnsureRun(); err != nil {
		t.Fatal(err)
	}
	st := &StartedPlugin{Name: "kv", Version: "1.0.0", Pid: 1}
	sock := layoutKeeperSocket(home, st)
	const n = 4
	// Each keeper that found no keeper waits there (a while) for the
	// others to find none too: without the lock they all would, and then
	// each bind over the others'.
	var arrived atomic.Int32
	keeperBindHook = func() {
		arrived.Add(1)
		for deadline := time.Now().Add(300 * time.Millisecond); arrived.Load() < n && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	t.Cleanup(func() { keeperBindHook = nil })
	for round := 0; round < 2; round++ {
		arrived.Store(0)
		var (
			wg        sync.WaitGroup
			start     = make(chan struct{})
			listeners = make([]net.Listener, n)
			errs      = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				listeners[i], errs[i] = listenKeeper(context.Background(), home, st, sock)
			}()
		}
		close(start)
		wg.Wait()
		bound := 0
		for i, l := range listeners {
			if errs[i] != nil {
				t.Fatalf("round %d: listenKeeper: %v", round, errs[i])
			}
			if l == nil {
				continue
			}
			bound++
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}
		if bound != 1 {
			t.Errorf("round %d: %d of %d keepers bound the socket; want 1", round, bound, n)
		}
		if c, err := keepwire.Dial(sock); err != nil {
			t.Errorf("round %d: no keeper answers: %v", round, err)
		} else {
			c.Close()
		}
		if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("round %d: socket %v, %v; want mode 0600", round, fi, err)
		}
		for _, l := range listeners {
			if l != nil {
				l.Close()
			}
		}
		// The next round finds a dead keeper's socket, as after a crash.
	}
}

func layoutKeeperSocket(home store.Paths, st *StartedPlugin) string {
	st.Network, st.Address = "unix", home.Run()+"/plugin1"
	return keeperSocket(home, st)
}
