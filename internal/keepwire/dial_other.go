//go:build !unix

package keepwire

import (
	"errors"
	"os"
)

// Dial fails: keepers listen on unix sockets.
func Dial(path string) (*os.File, error) {
	return nil, &os.PathError{Op: "dial", Path: path, Err: errors.ErrUnsupported}
}
