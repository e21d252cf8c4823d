package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	yaml "go.yaml.in/yaml/v3"
)

// ErrIndexExists is wrapped by AddIndex when the name is taken.
var ErrIndexExists = errors.New("index already configured")

// ErrNoSuchIndex is wrapped by RemoveIndex when no index has the name.
var ErrNoSuchIndex = errors.New("index not configured")

// ConfigLockFile is the lock held by every change of config.yaml.
func (p Paths) ConfigLockFile() string { return filepath.Join(p.Locks(), "config.lock") }

// AddIndex appends s to the configured indexes. It holds the config lock
// for the whole read-modify-write, so that concurrent commands do not lose
// each other's changes, and edits the YAML document in place, so that the
// user's comments and the order of everything else stay as they were.
func AddIndex(ctx context.Context, p Paths, s Source) error {
	return editConfig(ctx, p, func(root *yaml.Node) error {
		seq := indexSequence(root, true)
		if indexItem(seq, s.Name) >= 0 {
			return fmt.Errorf("index %q: %w", s.Name, ErrIndexExists)
		}
		var item yaml.Node
		if err := item.Encode(sourceYAML(s)); err != nil {
			return err
		}
		seq.Content = append(seq.Content, &item)
		return nil
	})
}

// RemoveIndex removes the index called name from config.yaml, under the
// config lock and keeping the rest of the document, comments included.
func RemoveIndex(ctx context.Context, p Paths, name string) error {
	return editConfig(ctx, p, func(root *yaml.Node) error {
		seq := indexSequence(root, false)
		i := indexItem(seq, name)
		if i < 0 {
			return fmt.Errorf("index %q: %w", name, ErrNoSuchIndex)
		}
		seq.Content = append(seq.Content[:i], seq.Content[i+1:]...)
		return nil
	})
}

// sourceYAML is Source as written to config.yaml (the field names its JSON
// tags give, which LoadConfig reads).
func sourceYAML(s Source) any {
	return struct {
		Name    string   `yaml:"name"`
		Address string   `yaml:"source"`
		Keys    []string `yaml:"keys,omitempty"`
	}{s.Name, s.Address, s.Keys}
}

// editConfig runs edit on config.yaml's document under the config lock and
// writes the result atomically. A missing file is an empty document.
func editConfig(ctx context.Context, p Paths, edit func(root *yaml.Node) error) error {
	if err := os.MkdirAll(p.Locks(), 0o755); err != nil {
		return err
	}
	fl := flock.New(p.ConfigLockFile())
	ok, err := fl.TryLockContext(ctx, 20*time.Millisecond)
	if !ok {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("lock %s: %w", p.ConfigLockFile(), err)
	}
	defer fl.Unlock()

	b, err := ReadFileMax(p.Config(), MaxRecordBytes)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read config: %w", err)
	}
	// What LoadConfig cannot read is not edited either: the user fixes it.
	if _, err := parseConfig(p, b); err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("read config %s: %v", p.Config(), err)
	}
	if doc.Kind == 0 {
		// Empty, or only comments, which yaml.v3 drops from a document
		// without content: they stay, above the new content.
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
		var comments []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "#") {
				comments = append(comments, l)
			}
		}
		doc.HeadComment = strings.Join(comments, "\n")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		if root.Tag != "!!null" {
			return fmt.Errorf("read config %s: the document is not a mapping", p.Config())
		}
		// A file of only comments: they stay, above the new content.
		*root = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: root.HeadComment, LineComment: root.LineComment, FootComment: root.FootComment}
	}
	if err := edit(root); err != nil {
		return err
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return WriteFileAtomic(p.Config(), out.Bytes(), 0o644)
}

// indexSequence is the value of root's "indexes" key, created (empty) when
// create is set and it is missing.
func indexSequence(root *yaml.Node, create bool) *yaml.Node {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "indexes" {
			v := root.Content[i+1]
			if v.Kind != yaml.SequenceNode {
				// "indexes:" with nothing after it reads as null.
				*v = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", HeadComment: v.HeadComment, LineComment: v.LineComment}
			}
			return v
		}
	}
	if !create {
		return &yaml.Node{Kind: yaml.SequenceNode}
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "indexes"}, seq)
	return seq
}

// indexItem is the position in seq of the index called name, or -1.
func indexItem(seq *yaml.Node, name string) int {
	for i, item := range seq.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(item.Content); j += 2 {
			if item.Content[j].Value == "name" && item.Content[j+1].Value == name {
				return i
			}
		}
	}
	return -1
}
