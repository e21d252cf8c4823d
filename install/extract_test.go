package install

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tarEntry is one entry of a test archive; typ 0 means a regular file.
type tarEntry struct {
	name string
	body string
	mode int64
	typ  byte
	link string
	size int64 // declared size when >0 and body is empty (with zeros written)
}

func tarBytes(t testing.TB, gz bool, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var tw *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		if e.typ == tar.TypeXGlobalHeader {
			if err := tw.WriteHeader(&tar.Header{Typeflag: e.typ, PAXRecords: map[string]string{"comment": "global"}}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: e.typ, Linkname: e.link, Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
			if e.size > 0 {
				h.Size = e.size
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.size > 0 {
			zero := make([]byte, 1<<20)
			for left := e.size; left > 0; left -= int64(len(zero)) {
				tw.Write(zero[:min(left, int64(len(zero)))])
			}
		} else {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

type zipEntry struct {
	name   string
	body   string
	mode   fs.FileMode
	method uint16 // for raw entries: written as given, not compressed
	flags  uint16
	raw    bool
	size   int64 // zeros, deflated
}

func zipBytes(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.raw {
			h := &zip.FileHeader{Name: e.name, Method: e.method, Flags: e.flags,
				CRC32: crc32.ChecksumIEEE([]byte(e.body)), CompressedSize64: uint64(len(e.body)), UncompressedSize64: uint64(len(e.body))}
			w, err := zw.CreateRaw(h)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(e.body))
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if e.size > 0 {
			zero := make([]byte, 1<<20)
			for left := e.size; left > 0; left -= int64(len(zero)) {
				w.Write(zero[:min(left, int64(len(zero)))])
			}
		} else {
			w.Write([]byte(e.body))
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// extractIn writes data as base/name and extracts it into base/d/x, so an
// entry escaping by one or two levels would land in base/d or base.
func extractIn(t testing.TB, name string, data []byte, lim Limits) (dir string, err error) {
	t.Helper()
	base := t.TempDir()
	dir = filepath.Join(base, "d", "x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(base, name)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	err = Extract(src, name, dir, lim)
	assertNames(t, base, "d", name)
	assertNames(t, filepath.Join(base, "d"), "x")
	return dir, err
}

func assertNames(t testing.TB, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s holds %q, want %q", dir, got, want)
	}
}

// tree lists every path under dir with its type and permission bits.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = fi.Mode().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExtractGood(t *testing.T) {
	wantTree := map[string]string{
		"bin":                   "drwxr-xr-x",
		"bin/tool":              "-rwxr-xr-x",
		"README":                "-rw-r--r--",
		"nested":                "drwxr-xr-x",
		"nested/deep":           "drwxr-xr-x",
		"nested/deep/data.json": "-rw-r--r--",
		"share":                 "drwxr-xr-x",
	}
	tarEntries := []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./bin/", typ: tar.TypeDir, mode: 0o700},
		{name: "./bin/tool", body: "#!/bin/sh\n", mode: 0o4755 | 0o1000}, // setuid, sticky
		{name: "README", body: "hello", mode: 0o600},
		{name: "nested/deep/data.json", body: "{}", mode: 0o2644}, // setgid, implicit parents
		{name: "share", typ: tar.TypeDir, mode: 0o777},
		{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
	}
	zipEntries := []zipEntry{
		{name: "bin/", mode: fs.ModeDir | 0o700},
		{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o755 | fs.ModeSetuid},
		{name: "README", body: "hello", mode: 0o600},
		{name: "nested/deep/data.json", body: "{}"},
		{name: "share/", mode: fs.ModeDir | 0o777},
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"p_1.0_linux_amd64.tar.gz", tarBytes(t, true, tarEntries...)},
		{"p.TGZ", tarBytes(t, true, tarEntries...)},
		{"p.tar", tarBytes(t, false, tarEntries...)},
		{"p.zip", zipBytes(t, zipEntries...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := extractIn(t, tc.name, tc.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got := tree(t, dir)
			if fmt.Sprint(got) != fmt.Sprint(wantTree) {
				t.Fatalf("tree:\n got %v\nwant %v", got, wantTree)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "bin", "tool")); string(b) != "#!/bin/sh\n" {
				t.Fatalf("bin/tool = %q", b)
			}
		})
	}
}

func TestExtractRefused(t *testing.T) {
	bomb := int64(16 << 20)
	deep := strings.Repeat("d/", 30) + "f"
	many := make([]tarEntry, 30)
	manyZip := make([]zipEntry, 30)
	for i := range many {
		many[i] = tarEntry{name: "f" + strconv.Itoa(i), body: "x"}
		manyZip[i] = zipEntry{name: "f" + strconv.Itoa(i), body: "x"}
	}
	small := Limits{MaxBytes: 1 << 20, MaxFiles: 20}
	for _, tc := range []struct {
		label, name string
		data        []byte
		entry       string // named in the message
		is          error
	}{
		{"dotdot", "a.tar.gz", tarBytes(t, true, tarEntry{name: "ok", body: "x"}, tarEntry{name: "../evil", body: "x"}), "../evil", ErrUnsafeEntry},
		{"dotdot-deep", "a.tar.gz", tarBytes(t, true, tarEntry{name: "a/../../evil", body: "x"}), "a/../../evil", ErrUnsafeEntry},
		{"absolute", "a.tar.gz", tarBytes(t, true, tarEntry{name: "/abs/evil", body: "x"}), "/abs/evil", ErrUnsafeEntry},
		{"symlink", "a.tar.gz", tarBytes(t, true, tarEntry{name: "bin/tool", typ: tar.TypeSymlink, link: "/etc/passwd"}), "bin/tool", ErrUnsafeEntry},
		{"symlink-then-write", "a.tar", tarBytes(t, false, tarEntry{name: "l", typ: tar.TypeSymlink, link: ".."}, tarEntry{name: "l/evil", body: "x"}), `"l"`, ErrUnsafeEntry},
		{"hardlink", "a.tar.gz", tarBytes(t, true, tarEntry{name: "a", body: "x"}, tarEntry{name: "b", typ: tar.TypeLink, link: "a"}), `"b"`, ErrUnsafeEntry},
		{"fifo", "a.tar", tarBytes(t, false, tarEntry{name: "p", typ: tar.TypeFifo}), `"p"`, ErrUnsafeEntry},
		{"duplicate", "a.tar", tarBytes(t, false, tarEntry{name: "a", body: "x"}, tarEntry{name: "./a", body: "y"}), "./a", ErrUnsafeEntry},
		{"file-over-dir", "a.tar", tarBytes(t, false, tarEntry{name: "a", body: "x"}, tarEntry{name: "a/b", body: "y"}), "a/b", ErrUnsafeEntry},
		{"too-many", "a.tar.gz", tarBytes(t, true, many...), "f20", ErrArchiveLimit},
		{"too-deep", "a.tar.gz", tarBytes(t, true, tarEntry{name: deep, body: "x"}), deep, ErrArchiveLimit},
		{"bomb", "a.tar.gz", tarBytes(t, true, tarEntry{name: "zeros", size: bomb}), "zeros", ErrArchiveLimit},
		{"bomb-sum", "a.tar.gz", tarBytes(t, true, tarEntry{name: "a", size: 600 << 10}, tarEntry{name: "b", size: 600 << 10}), `"b"`, ErrArchiveLimit},
		{"zip-dotdot", "a.zip", zipBytes(t, zipEntry{name: "../evil", body: "x"}), "../evil", ErrUnsafeEntry},
		{"zip-backslash", "a.zip", zipBytes(t, zipEntry{name: `..\evil`, body: "x"}), `..\\evil`, ErrUnsafeEntry},
		{"zip-absolute", "a.zip", zipBytes(t, zipEntry{name: "/abs/evil", body: "x"}), "/abs/evil", ErrUnsafeEntry},
		{"zip-drive", "a.zip", zipBytes(t, zipEntry{name: "C:/evil", body: "x"}), "C:/evil", ErrUnsafeEntry},
		{"zip-symlink", "a.zip", zipBytes(t, zipEntry{name: "link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}), "link", ErrUnsafeEntry},
		{"zip-too-many", "a.zip", zipBytes(t, manyZip...), "f20", ErrArchiveLimit},
		{"zip-bomb", "a.zip", zipBytes(t, zipEntry{name: "zeros", size: bomb}), "zeros", ErrArchiveLimit},
		{"zip-method-99", "a.zip", zipBytes(t, zipEntry{name: "odd", body: "data", method: 99, raw: true}), "odd", nil},
		{"zip-encrypted", "a.zip", zipBytes(t, zipEntry{name: "secret", body: "data", flags: 0x1, raw: true}), "secret", ErrUnsafeEntry},
	} {
		t.Run(tc.label, func(t *testing.T) {
			dir, err := extractIn(t, tc.name, tc.data, small)
			if err == nil {
				t.Fatal("extracted, want an error")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.entry) {
				t.Errorf("error %q does not name %s", err, tc.entry)
			}
			if !strings.HasPrefix(err.Error(), "extract "+tc.name+": ") {
				t.Errorf("error %q does not start with the archive", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			var xe *ExtractError
			if !errors.As(err, &xe) || xe.Archive != tc.name {
				t.Errorf("error is not an *ExtractError for %s: %#v", tc.name, err)
			}
			assertNames(t, dir) // emptied again
		})
	}
}

func TestExtractBadInput(t *testing.T) {
	good := tarBytes(t, false, tarEntry{name: "a", body: strings.Repeat("x", 2000)})
	corrupt := slices.Clone(good)
	copy(corrupt[148:156], "garbage!") // header checksum field
	for _, tc := range []struct {
		label, name string
		data        []byte
	}{
		{"bad-tar-header", "a.tar", corrupt},
		{"not-gzip", "a.tar.gz", []byte("<html>login</html>")},
		{"truncated-tar", "a.tar", good[:1000]},
		{"truncated-gzip", "a.tgz", tarBytes(t, true, tarEntry{name: "a", body: strings.Repeat("xy", 5000)})[:40]},
		{"not-zip", "a.zip", []byte("PK not really")},
		{"empty-zip", "a.zip", nil},
	} {
		t.Run(tc.label, func(t *testing.T) {
			dir, err := extractIn(t, tc.name, tc.data, Limits{})
			if err == nil {
				t.Fatal("extracted, want an error")
			}
			t.Log(err)
			assertNames(t, dir)
		})
	}

	base := t.TempDir()
	if err := Extract(filepath.Join(base, "x"), "plugin.bin", base, Limits{}); !errors.Is(err, ErrNotArchive) {
		t.Errorf("plugin.bin: %v, want ErrNotArchive", err)
	}
	src := filepath.Join(base, "a.tar")
	os.WriteFile(src, good, 0o644)
	dir := filepath.Join(base, "full")
	os.MkdirAll(filepath.Join(dir, "old"), 0o755)
	if err := Extract(src, "a.tar", dir, Limits{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty dir: %v", err)
	}
	assertNames(t, dir, "old")
}

// The declared sizes are checked first; the bytes written are counted too,
// for an entry whose size is not declared or lies.
func TestExtractCountsWrittenBytes(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	x := &extractor{root: root, lim: Limits{MaxBytes: 1000, MaxFiles: 10}, dirs: map[string]bool{".": true}}
	err = x.file("big", "big", 0o644, -1, bytes.NewReader(make([]byte, 1001)))
	if !errors.Is(err, ErrArchiveLimit) || !strings.Contains(err.Error(), `"big"`) {
		t.Fatalf("err = %v, want ErrArchiveLimit naming big", err)
	}
	if err := x.file("small", "small", 0o644, -1, bytes.NewReader(make([]byte, 10))); !errors.Is(err, ErrArchiveLimit) {
		t.Fatalf("after 1001 bytes written, err = %v, want ErrArchiveLimit", err)
	}
}

func TestIsArchive(t *testing.T) {
	for name, want := range map[string]bool{
		"a.tar.gz": true, "A.TGZ": true, "a.tar": true, "a.zip": true,
		"a.gz": false, "a.tar.xz": false, "greeter": false, "a.zip.sig": false,
	} {
		if IsArchive(name) != want {
			t.Errorf("IsArchive(%s) = %v", name, !want)
		}
	}
}

// FuzzExtract: whatever the bytes, Extract never panics, writes nothing
// outside dir, creates no link and no special mode, and leaves dir empty
// when it fails.
func FuzzExtract(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		name := []string{"f.tar.gz", "f.tar", "f.zip"}[int(kind)%3]
		dir, err := extractIn(t, name, data, Limits{MaxBytes: 1 << 20, MaxFiles: 64})
		got := tree(t, dir)
		if err != nil && len(got) > 0 {
			t.Fatalf("failed (%v) but left %v", err, got)
		}
		for p, m := range got {
			if m != "drwxr-xr-x" && m != "-rwxr-xr-x" && m != "-rw-r--r--" {
				t.Fatalf("%s has mode %s", p, m)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzExtract when
// PLUGCTL_WRITE_FUZZ_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("PLUGCTL_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set PLUGCTL_WRITE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	seeds := map[string]struct {
		data []byte
		kind uint8
	}{
		"targz-good":     {tarBytes(t, true, tarEntry{name: "bin/", typ: tar.TypeDir}, tarEntry{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o4755}, tarEntry{name: "README", body: "hi"}), 0},
		"targz-dotdot":   {tarBytes(t, true, tarEntry{name: "../evil", body: "x"}), 0},
		"targz-symlink":  {tarBytes(t, true, tarEntry{name: "l", typ: tar.TypeSymlink, link: "/etc"}, tarEntry{name: "l/x", body: "x"}), 0},
		"tar-hardlink":   {tarBytes(t, false, tarEntry{name: "a", body: "x"}, tarEntry{name: "b", typ: tar.TypeLink, link: "../a"}), 1},
		"tar-dup":        {tarBytes(t, false, tarEntry{name: "a", body: "x"}, tarEntry{name: "a/b", body: "y"}), 1},
		"zip-good":       {zipBytes(t, zipEntry{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o755}, zipEntry{name: "d/", mode: fs.ModeDir | 0o755}), 2},
		"zip-dotdot":     {zipBytes(t, zipEntry{name: `..\x`, body: "x"}, zipEntry{name: "/abs", body: "x"}), 2},
		"zip-method-99":  {zipBytes(t, zipEntry{name: "odd", body: "data", method: 99, raw: true}), 2},
		"zip-encrypted":  {zipBytes(t, zipEntry{name: "s", body: "data", flags: 1, raw: true}), 2},
		"zip-symlink":    {zipBytes(t, zipEntry{name: "l", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}), 2},
		"targz-manyzero": {tarBytes(t, true, tarEntry{name: "z", size: 2 << 20}), 0},
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzExtract")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nuint8(%d)\n", strconv.Quote(string(s.data)), s.kind)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExtractLegacyRegularFile: an old archive whose regular files have a
// NUL type flag (tar's TypeRegA, "\x00") still unpacks its files, and a
// NUL-typed name ending in / is a directory, as archive/tar reads them.
func TestExtractLegacyRegularFile(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "share/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatUSTAR},
		{Name: "bin/tool", Typeflag: tar.TypeReg, Mode: 0o755, Size: 10, Format: tar.FormatUSTAR},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("#!/bin/sh\n"))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	// archive/tar writes no TypeRegA: set each header's type flag (byte
	// 156) to NUL and its checksum (bytes 148-155) to match.
	b := buf.Bytes()
	for _, off := range []int{0, 512} {
		h := b[off : off+512]
		h[156] = 0
		copy(h[148:156], "        ")
		sum := 0
		for _, c := range h {
			sum += int(c)
		}
		copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	}
	dir, err := extractIn(t, "legacy.tar", b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"bin": "drwxr-xr-x", "bin/tool": "-rwxr-xr-x", "share": "drwxr-xr-x"}
	if got := tree(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tree:\n got %v\nwant %v", got, want)
	}
}
