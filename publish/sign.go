package publish

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/internal/regfile"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// DefaultSignedTTL is how long an index signed by publish or mirror stays
// valid unless the operator says otherwise.
const DefaultSignedTTL = 30 * 24 * time.Hour

// PasswordFunc gives the password of an encrypted secret key; prompt
// names the key.
type PasswordFunc func(prompt string) (string, error)

// Signer is the signing function of the minisign secret key at keyPath.
// It asks password for the key's password once, when it first signs, and
// only when the key is encrypted.
func Signer(keyPath string, password PasswordFunc) (index.SignFunc, error) {
	sec, err := regfile.ReadFile(keyPath, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	pw, asked := "", false
	return func(name string, msg []byte) ([]byte, error) {
		if verify.KeyIsEncrypted(sec) && !asked {
			p, err := password("password for " + keyPath)
			if err != nil {
				return nil, err
			}
			pw, asked = p, true
		}
		sig, err := verify.Sign(sec, pw, name, msg)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", name, err)
		}
		return sig, nil
	}, nil
}

// SignIndex writes INDEX.minisig for the index file at path, signed with
// the secret key at keyPath, and returns the signature's path. The index
// must have "version" and "expires": clients refuse a signed index
// without them.
func SignIndex(path, keyPath string, password PasswordFunc) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", index.Usagef("index sign: %s does not exist", path)
	}
	idx, err := index.LoadFile(path)
	if err != nil {
		return "", err
	}
	if idx.Version <= 0 || idx.Expires == nil {
		return "", index.Usagef("index sign: %s needs \"version\" and \"expires\" to be signed (clients refuse a signed index without them); plugctl publish --key sets both", path)
	}
	sign, err := Signer(keyPath, password)
	if err != nil {
		return "", err
	}
	msg, err := regfile.ReadFile(path, index.MaxIndexBytes)
	if err != nil {
		return "", err
	}
	sig, err := sign(filepath.Base(path), msg)
	if err != nil {
		return "", err
	}
	out := path + ".minisig"
	return out, store.WriteFileAtomic(out, sig, 0o644)
}
