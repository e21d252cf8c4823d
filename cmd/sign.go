package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/plugctl/plugctl/publish"
	"github.com/plugctl/plugctl/verify"
)

// EnvKeyPassword gives the password of a minisign secret key, for CI.
const EnvKeyPassword = "PLUGCTL_KEY_PASSWORD"

// keyPassword returns the password from $PLUGCTL_KEY_PASSWORD, else from a
// terminal prompt (twice when confirm), else an error naming both ways.
func (g *Global) keyPassword(prompt string, confirm bool) (string, error) {
	if pw := os.Getenv(EnvKeyPassword); pw != "" {
		return pw, nil
	}
	f, ok := g.IO.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", &exitError{code: ExitUsage, msg: "a key password is needed and there is no terminal to ask for it",
			hint: "set " + EnvKeyPassword + ", or use index keygen --no-password for a key without one"}
	}
	fmt.Fprint(g.IO.ErrOut, prompt+": ")
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(g.IO.ErrOut)
	if err != nil {
		return "", err
	}
	if confirm {
		fmt.Fprint(g.IO.ErrOut, "again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.IO.ErrOut)
		if err != nil {
			return "", err
		}
		if string(again) != string(pw) {
			return "", usageErrorf("the passwords differ")
		}
	}
	if len(pw) == 0 {
		return "", usageErrorf("empty password (use --no-password for a key without one)")
	}
	return string(pw), nil
}

func newIndexKeygenCmd(g *Global) *cobra.Command {
	var noPassword, force bool
	c := &cobra.Command{
		Use:   "keygen PREFIX",
		Short: "Make a minisign key pair for signing indexes: PREFIX.pub and PREFIX.key",
		Long: `Write a minisign key pair: PREFIX.pub (give it to users: plugctl index add … --key
PREFIX.pub) and PREFIX.key (secret, mode 0600), encrypted with a password from
the terminal or $PLUGCTL_KEY_PASSWORD, or not at all with --no-password.
Keys are interoperable with the minisign tool.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			pubPath, keyPath := a[0]+".pub", a[0]+".key"
			if !force {
				for _, p := range []string{pubPath, keyPath} {
					if _, err := os.Stat(p); err == nil {
						return usageErrorf("%s exists: refusing to overwrite a key (use --force)", p)
					}
				}
			}
			pw := ""
			if !noPassword {
				var err error
				if pw, err = g.keyPassword("password for the new key", true); err != nil {
					return err
				}
			}
			pub, sec, err := verify.GenerateKey(pw)
			if err != nil {
				return err
			}
			if dir := filepath.Dir(keyPath); dir != "." {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
			}
			if err := os.WriteFile(keyPath, sec, 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
				return err
			}
			if g.JSON() {
				return g.PrintJSON(map[string]any{"public": pubPath, "secret": keyPath, "encrypted": pw != ""})
			}
			g.Printf("wrote %s (share it) and %s (keep it secret)\n", pubPath, keyPath)
			return nil
		},
	}
	c.Flags().BoolVar(&noPassword, "no-password", false, "do not encrypt the secret key (for CI)")
	c.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	return c
}

// keyPrompt asks for a secret key's password when signing needs it.
func (g *Global) keyPrompt() publish.PasswordFunc {
	return func(prompt string) (string, error) { return g.keyPassword(prompt, false) }
}

func newIndexSignCmd(g *Global) *cobra.Command {
	var key string
	c := &cobra.Command{
		Use:   "sign INDEX --key PREFIX.key",
		Short: "Sign an index file: writes INDEX.minisig",
		Long: `Sign the index file with a minisign secret key, writing INDEX.minisig beside
it. A signed index needs "version" (only ever raised) and "expires": plugctl
refuses a signed index without them, an expired one, and one whose version
went down.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if key == "" {
				return usageErrorf("index sign needs --key PREFIX.key")
			}
			sig, err := publish.SignIndex(a[0], key, g.keyPrompt())
			if err != nil {
				return err
			}
			if g.JSON() {
				return g.PrintJSON(map[string]string{"signature": sig})
			}
			g.Printf("wrote %s\n", sig)
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "", "minisign secret key file")
	return c
}
