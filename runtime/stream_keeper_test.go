//go:build unix

package runtime

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/plugctl/plugctl/store"
)

// Through a keeper, a bidirectional call streams both ways at once (the
// next request is sent only after the previous answer came back, through
// the keeper), a client-streaming call answers once, the kind comes back
// with the end, and a bad request message is the caller's *ArgError.
func TestKeeperStreams(t *testing.T) {
	t.Parallel()
	home := store.Paths{Home: t.TempDir()}
	if err := installFake(home, goodBin, "good", "1.0.0", store.Protocol{Kind: store.KindGRPC}, true); err != nil {
		t.Fatal(err)
	}
	st, r, _ := keep(t, home, "good")
	ctx := ctxT(t, 20*time.Second)
	answered := make(chan struct{}, 10)
	var got []string
	reqs := func(send func([]byte) error) error {
		for _, m := range []string{"one", "two"} {
			if err := send([]byte(`{"message": "` + m + `"}`)); err != nil {
				return err
			}
			select {
			case <-answered:
			case <-ctx.Done():
				return errors.New("no answer to " + m + " before the send side closed")
			}
		}
		return nil
	}
	used, kind, err := st.CallKeeperKind(ctx, home, r, "Chat", nil, CallOptions{Requests: reqs}, func(doc []byte) error {
		got = append(got, string(doc))
		answered <- struct{}{}
		return nil
	})
	if !used || err != nil || kind != Bidirectional {
		t.Fatalf("Chat through the keeper: used %v, kind %q, %v", used, kind, err)
	}
	if want := []string{`{"message":"ONE","n":"1"}`, `{"message":"TWO","n":"2"}`}; !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	got = nil
	used, kind, err = st.CallKeeperKind(ctx, home, r, "Collect", nil, CallOptions{Requests: JSONRequests(strings.NewReader(`{"message": "a"} {"message": "b"}`))}, func(doc []byte) error {
		got = append(got, string(doc))
		return nil
	})
	if !used || err != nil || kind != ClientStreaming || !equal(got, []string{`{"message":"a b","n":"2"}`}) {
		t.Errorf("Collect through the keeper: used %v, kind %q, %q, %v", used, kind, got, err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"message": "a"} {nope`, "request message 2 is not valid JSON"}, // the caller's own
		{`{"message": "a"} {"bogus": 1}`, "request message 2"},            // the keeper's
	} {
		_, _, err = st.CallKeeperKind(ctx, home, r, "Collect", nil, CallOptions{Requests: JSONRequests(strings.NewReader(tc.in))}, func([]byte) error { return nil })
		var ae *ArgError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an *ArgError saying %q, got %v", tc.in, tc.want, err)
		}
	}
	// The keeper still serves.
	if o := kept(t, home, st, r, "Echo/Echo", `{"message": "still"}`); o.err != nil {
		t.Errorf("after the failures: %v", o.err)
	}
}
