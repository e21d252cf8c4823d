package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// SignatureAddress is where the signature of the index at addr lives: the
// same address with ".minisig" appended to the file path, before any query;
// in a registry, the same manifest, whose layer titled *.minisig a fetch
// into a file named so delivers.
func SignatureAddress(addr string) string {
	if fetch.IsOCI(addr) {
		return addr
	}
	if i := strings.IndexByte(addr, '?'); i >= 0 {
		return addr[:i] + ".minisig" + addr[i:]
	}
	return addr + ".minisig"
}

// MaxSignatureBytes bounds a fetched signature: a minisign signature with
// its comments is a few hundred bytes.
const MaxSignatureBytes = 64 << 10

// trustState is the highest version of a signed index seen so far, and the
// hash of its bytes: TUF's rollback and mix-and-match protection.
type trustState struct {
	Version int64     `json:"version"`
	SHA256  string    `json:"sha256"`
	SeenAt  time.Time `json:"seenAt"`
}

func readTrust(p store.Paths, name string) (*trustState, error) {
	b, err := store.ReadFileMax(p.TrustFile(name), store.MaxRecordBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t trustState
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("trust record of index %s is corrupt (%s): %w", name, p.TrustFile(name), err)
	}
	return &t, nil
}

// checkSigned enforces what a signed index must satisfy, given its raw
// bytes and parsed form: a signature by a trusted key at the signature
// address, a version and an expiry, an expiry in the future, and a version
// never below (nor equal with other bytes to) the highest seen.
func checkSigned(ctx context.Context, f *fetch.Fetcher, p store.Paths, src store.Source, stage string, raw []byte, rawSum string, idx *Index, now time.Time) error {
	sigFile := filepath.Join(stage, "index.minisig")
	if _, err := f.WithMaxBytes(MaxSignatureBytes).File(ctx, SignatureAddress(src.Address), sigFile); err != nil {
		if errors.Is(err, fetch.ErrNotFound) {
			return &verify.SignatureError{Index: src.Name, Reason: "no signature at " + SignatureAddress(src.Address) + " (the index is configured with --key, so it must be signed)"}
		}
		return fmt.Errorf("index %s: signature: %w", src.Name, err)
	}
	sig, err := os.ReadFile(sigFile)
	if err != nil {
		return err
	}
	if err := verify.CheckSignature(src.Name, src.Keys, raw, sig); err != nil {
		return err
	}
	if idx.Version <= 0 || idx.Expires == nil {
		return &verify.SignatureError{Index: src.Name, Reason: "a signed index needs a version and an expires field"}
	}
	if !now.Before(*idx.Expires) {
		return &verify.SignatureError{Index: src.Name, Reason: fmt.Sprintf("expired at %s: the publisher must re-sign it", idx.Expires.UTC().Format(time.RFC3339))}
	}
	t, err := readTrust(p, src.Name)
	if err != nil {
		return err
	}
	if t != nil {
		if idx.Version < t.Version {
			return &verify.SignatureError{Index: src.Name, Reason: fmt.Sprintf("version %d is older than version %d seen before (rollback refused)", idx.Version, t.Version)}
		}
		if idx.Version == t.Version && t.SHA256 != rawSum {
			return &verify.SignatureError{Index: src.Name, Reason: fmt.Sprintf("version %d has other content than when it was seen before (the publisher must raise the version)", idx.Version)}
		}
	}
	return nil
}

func writeTrust(p store.Paths, name string, idx *Index, rawSum string, now time.Time) error {
	b, _ := json.Marshal(trustState{Version: idx.Version, SHA256: rawSum, SeenAt: now.UTC()})
	return store.WriteFileAtomic(p.TrustFile(name), b, 0o644)
}

// checkFresh refuses a cached signed index whose expiry has passed.
func checkFresh(src store.Source, m *Meta, now time.Time) error {
	if len(src.Keys) > 0 && m.Expires != nil && !now.Before(*m.Expires) {
		return &verify.SignatureError{Index: src.Name, Reason: fmt.Sprintf("cached copy expired at %s and no newer signed copy could be fetched: the publisher must re-sign it", m.Expires.UTC().Format(time.RFC3339))}
	}
	return nil
}
