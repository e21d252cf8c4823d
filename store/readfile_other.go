//go:build !unix

package store

import "os"

func readSmallFile(path string) ([]byte, error) { return os.ReadFile(path) }
