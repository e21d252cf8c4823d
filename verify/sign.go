package verify

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"aead.dev/minisign"

	"github.com/plugctl/plugctl/internal/regfile"
)

// ErrSignature is wrapped by every refused signature: missing, made by an
// untrusted key, not matching the bytes, or on an index that is rolled back
// or expired. cmd/ maps it to exit 4.
var ErrSignature = errors.New("signature refused")

// SignatureError says why a signed index was refused.
type SignatureError struct {
	Index  string
	Reason string
}

func (e *SignatureError) Error() string {
	return fmt.Sprintf("index %s: %s", e.Index, e.Reason)
}

func (e *SignatureError) Unwrap() error { return ErrSignature }

// maxKeyBytes bounds a key file: a minisign key with its comment line is
// well under a kilobyte.
const maxKeyBytes = 64 << 10

// ParsePublicKey reads a minisign public key given inline (the base64 line,
// or the whole two-line .pub text) or as a path to a .pub file.
func ParsePublicKey(s string) (minisign.PublicKey, error) {
	var k minisign.PublicKey
	text := strings.TrimSpace(s)
	if err := k.UnmarshalText([]byte(text)); err == nil {
		return k, nil
	}
	b, err := regfile.ReadFile(s, maxKeyBytes)
	if errors.Is(err, regfile.ErrNotRegular) {
		return k, fmt.Errorf("public key: %w", err)
	}
	if err != nil {
		return k, fmt.Errorf("public key %q: neither a minisign key nor a readable file", abbrev(s))
	}
	if err := k.UnmarshalText(b); err != nil {
		return k, fmt.Errorf("public key file %s: %v", s, err)
	}
	return k, nil
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// CheckSignature verifies that sig is a minisign signature of msg by one of
// keys (inline base64 public keys). Several keys are how keys rotate.
func CheckSignature(index string, keys []string, msg, sig []byte) error {
	for _, ks := range keys {
		k, err := ParsePublicKey(ks)
		if err != nil {
			continue
		}
		if minisign.Verify(k, msg, sig) {
			return nil
		}
	}
	return &SignatureError{Index: index, Reason: "signature does not verify with any trusted key (tampered index, or signed with a key you do not trust)"}
}

// GenerateKey makes a minisign key pair: the public key file text and the
// secret key file text, encrypted with password unless it is empty.
func GenerateKey(password string) (pub, sec []byte, err error) {
	pk, sk, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	pub, _ = pk.MarshalText()
	if password == "" {
		sec, err = sk.MarshalText()
	} else {
		sec, err = minisign.EncryptKey(password, sk)
	}
	return append(pub, '\n'), append(sec, '\n'), err
}

// KeyIsEncrypted reports whether a secret key file needs a password.
func KeyIsEncrypted(sec []byte) bool { return minisign.IsEncrypted(sec) }

// Sign signs msg with the secret key file text sec (decrypted with
// password when encrypted), as the minisign tool does (prehashed), with a
// trusted comment naming the file and the time.
func Sign(sec []byte, password, file string, msg []byte) ([]byte, error) {
	var sk minisign.PrivateKey
	var err error
	if minisign.IsEncrypted(sec) {
		sk, err = minisign.DecryptKey(password, sec)
	} else {
		err = sk.UnmarshalText(sec)
	}
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	r := minisign.NewReader(bytes.NewReader(msg))
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	trusted := fmt.Sprintf("timestamp:%d\tfile:%s\thashed", time.Now().Unix(), file)
	return r.SignWithComments(sk, trusted, "signature from plugctl secret key"), nil
}
