package publish

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// PushedIndex says where PushIndex put an index file.
type PushedIndex struct {
	Index    string `json:"index"`
	Target   string `json:"target"`
	Manifest string `json:"manifest"`
	Signed   bool   `json:"signed"`
}

// PushIndex pushes the index file, and INDEX.minisig when it exists, to
// target (oci://REGISTRY/REPOSITORY:TAG) as one OCI artifact, each file a
// layer titled with its name. The file must parse as an index. A target
// that is no registry address is an error wrapping index.ErrUsage.
func PushIndex(ctx context.Context, f *fetch.Fetcher, file, target string) (*PushedIndex, error) {
	repo, tag, err := fetch.SplitOCITag(target)
	if err != nil {
		return nil, index.Usagef("%v", err)
	}
	data, err := store.ReadFileMax(file, index.MaxIndexBytes)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &index.NotFoundError{What: "index", Name: file}
		}
		return nil, err
	}
	if _, err := index.Parse(data); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	files := []fetch.OCIFile{{Path: file, Title: filepath.Base(file)}}
	sig := index.SignatureAddress(file)
	signed := false
	if _, err := os.Stat(sig); err == nil {
		files = append(files, fetch.OCIFile{Path: sig, Title: filepath.Base(sig)})
		signed = true
	}
	res, err := f.PushOCI(ctx, fetch.OCIPush{Repository: repo, ArtifactType: fetch.ArtifactTypeIndex, Files: files, Tag: tag})
	if err != nil {
		return nil, err
	}
	return &PushedIndex{Index: file, Target: target, Manifest: res.Manifest.Digest.String(), Signed: signed}, nil
}
