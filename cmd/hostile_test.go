package cmd_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Script commands for the adversarial suite (testdata/script/adversarial_*).

// hostile DIR [VAR]: serve the files of DIR on 127.0.0.1 over http ($VAR,
// default HOSTILE) and https ($VAR_TLS, its certificate trusted through
// SSL_CERT_FILE), each path prefixed with a behaviour:
//
//	/ok/F        the file
//	/trickle/F   the file in 8 pieces, 300ms apart (slow but moving)
//	/stall/F     half the file, then nothing until the client gives up
//	/truncate/F  the full Content-Length, half the body, then the connection closes
//	/endless/F   zero bytes for ever, no Content-Length
//	/bigcl/F     Content-Length 10 GiB, then zero bytes
//	/html/F      200 text/html, a login page
//	/xtg/F       the file, with X-Terraform-Get pointing at /evil/
//	/loop/F      a redirect to itself
//	/tohttp/F    (on https) a redirect to the same file over http
//	/status/N/F  status N
//	/evil/...    counted in hits VAR_EVIL; nothing must ever ask for it
func cmdHostile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: hostile DIR [VAR]")
	}
	dir := ts.MkAbs(args[0])
	name := "HOSTILE"
	if len(args) == 2 {
		name = args[1]
	}
	var hits, evil atomic.Int64
	var plainURL string
	logRequest := serverLog(ts, name)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		logRequest(r)
		mode, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if mode == "evil" {
			evil.Add(1)
			http.Error(w, "you should not be here", http.StatusTeapot)
			return
		}
		if mode == "status" {
			code, _ := strconv.Atoi(strings.SplitN(rest, "/", 2)[0])
			http.Error(w, http.StatusText(code), code)
			return
		}
		if mode == "loop" {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
			return
		}
		if mode == "tohttp" {
			http.Redirect(w, r, plainURL+"/ok/"+rest, http.StatusFound)
			return
		}
		if mode == "html" {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<!DOCTYPE html><html><body><form>Please sign in</form></body></html>\n")
			return
		}
		if mode == "endless" || mode == "bigcl" {
			if mode == "bigcl" {
				w.Header().Set("Content-Length", strconv.FormatInt(10<<30, 10))
			}
			zero := make([]byte, 32<<10)
			for {
				if _, err := w.Write(zero); err != nil {
					return
				}
			}
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rest)))
		if err != nil || strings.Contains(rest, "..") {
			http.NotFound(w, r)
			return
		}
		fl, _ := w.(http.Flusher)
		switch mode {
		case "ok":
			w.Write(b)
		case "xtg":
			w.Header().Set("X-Terraform-Get", "/evil/"+rest)
			w.Write(b)
		case "trickle":
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			n := (len(b) + 7) / 8
			for i := 0; i < len(b); i += n {
				w.Write(b[i:min(i+n, len(b))])
				fl.Flush()
				time.Sleep(300 * time.Millisecond)
			}
		case "stall":
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b[:len(b)/2])
			fl.Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		case "truncate":
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b[:len(b)/2])
			fl.Flush()
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
				}
			}
		default:
			http.NotFound(w, r)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	plain := &http.Server{Handler: handler}
	go plain.Serve(ln)
	plainURL = "http://" + ln.Addr().String()
	tlsSrv := httptest.NewUnstartedServer(handler)
	tlsSrv.StartTLS()
	ts.Defer(func() {
		plain.Close()
		tlsSrv.CloseClientConnections()
		tlsSrv.Close()
	})
	ca := filepath.Join(ts.Getenv("WORK"), ".hostile-ca.pem")
	ts.Check(os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644))
	ts.Setenv("SSL_CERT_FILE", ca)
	ts.Setenv(name, plainURL)
	ts.Setenv(name+"_TLS", tlsSrv.URL)
	hitCounters.Store(ts.Getenv("WORK")+" "+name, &hits)
	hitCounters.Store(ts.Getenv("WORK")+" "+name+"_EVIL", &evil)
}

// mkarchive KIND FILE [BIN]: write a hostile archive (or a good one with
// KIND good) holding the file BIN (default $PLUGINS/greeter) as "plugin"
// plus what KIND adds:
//
//	dotdot     an entry ../../evil
//	abs        an entry /tmp/plugctl-evil
//	symlink    a symbolic link to /etc/passwd
//	hardlink   a hard link to /etc/passwd
//	bomb       an 8 MiB file of zeros (a few KB compressed)
//	manyfiles  10001 empty files
//	zipmethod  (zip) an entry stored with compression method 99
//	zipcrypt   (zip) an entry flagged as encrypted
//	nobin      a second executable, so no single entry point
//	setuid     "plugin" with mode 4755
//
// FILE's extension chooses tar.gz, tar or zip.
func cmdMkArchive(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: mkarchive KIND FILE [BIN]")
	}
	kind, out := args[0], ts.MkAbs(args[1])
	bin := filepath.Join(ts.Getenv("PLUGINS"), "greeter")
	if len(args) == 3 {
		bin = ts.MkAbs(args[2])
	}
	body, err := os.ReadFile(bin)
	ts.Check(err)
	type entry struct {
		name, link string
		typ        byte
		mode       int64
		body       []byte
		method     uint16
		flags      uint16
	}
	mode := int64(0o755)
	if kind == "setuid" {
		mode = 0o4755
	}
	entries := []entry{{name: "plugin", typ: tar.TypeReg, mode: mode, body: body}}
	switch kind {
	case "good", "setuid":
	case "dotdot":
		entries = append(entries, entry{name: "../../evil", typ: tar.TypeReg, mode: 0o644, body: []byte("evil\n")})
	case "abs":
		entries = append(entries, entry{name: "/tmp/plugctl-evil", typ: tar.TypeReg, mode: 0o644, body: []byte("evil\n")})
	case "symlink":
		entries = append(entries, entry{name: "passwd", typ: tar.TypeSymlink, link: "/etc/passwd", mode: 0o777})
	case "hardlink":
		entries = append(entries, entry{name: "passwd", typ: tar.TypeLink, link: "/etc/passwd", mode: 0o644})
	case "bomb":
		entries = append(entries, entry{name: "zeros", typ: tar.TypeReg, mode: 0o644, body: make([]byte, 8<<20)})
	case "manyfiles":
		for i := 0; i < 10001; i++ {
			entries = append(entries, entry{name: fmt.Sprintf("f/%05d", i), typ: tar.TypeReg, mode: 0o644})
		}
	case "zipmethod":
		entries = append(entries, entry{name: "data", typ: tar.TypeReg, mode: 0o644, body: []byte("x"), method: 99})
	case "zipcrypt":
		entries = append(entries, entry{name: "data", typ: tar.TypeReg, mode: 0o644, body: []byte("x"), flags: 0x1})
	case "nobin":
		entries = append(entries, entry{name: "other", typ: tar.TypeReg, mode: 0o755, body: body})
	default:
		ts.Fatalf("mkarchive: unknown kind %q", kind)
	}
	var buf bytes.Buffer
	switch {
	case strings.HasSuffix(out, ".zip"):
		zw := zip.NewWriter(&buf)
		for _, e := range entries {
			h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
			if e.method != 0 || e.flags != 0 {
				h.Method = zip.Store
			}
			m := os.FileMode(e.mode & 0o777)
			if e.typ == tar.TypeSymlink {
				m |= os.ModeSymlink
				e.body = []byte(e.link)
			}
			h.SetMode(m)
			w, err := zw.CreateHeader(h)
			ts.Check(err)
			_, err = w.Write(e.body)
			ts.Check(err)
		}
		ts.Check(zw.Close())
		b := buf.Bytes()
		// archive/zip cannot write a method it does not know or an
		// encrypted flag: patch the headers of the entry named "data".
		for _, e := range entries {
			if e.method == 0 && e.flags == 0 {
				continue
			}
			patchZip(ts, b, e.name, e.method, e.flags)
		}
		ts.Check(os.WriteFile(out, b, 0o644))
		return
	default:
		var w io.Writer = &buf
		var gz *gzip.Writer
		if !strings.HasSuffix(out, ".tar") {
			gz = gzip.NewWriter(&buf)
			w = gz
		}
		tw := tar.NewWriter(w)
		for _, e := range entries {
			h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
			if e.typ != tar.TypeReg {
				h.Size = 0
			}
			ts.Check(tw.WriteHeader(h))
			if h.Size > 0 {
				_, err := tw.Write(e.body)
				ts.Check(err)
			}
		}
		ts.Check(tw.Close())
		if gz != nil {
			ts.Check(gz.Close())
		}
	}
	ts.Check(os.WriteFile(out, buf.Bytes(), 0o644))
}

// patchZip sets the method and flags of entry name in both its local and
// its central directory header.
func patchZip(ts *testscript.TestScript, b []byte, name string, method, flags uint16) {
	patched := 0
	for i := 0; i+46 <= len(b); i++ {
		var nameOff, flagOff, methodOff int
		switch string(b[i : i+4]) {
		case "PK\x03\x04":
			nameOff, flagOff, methodOff = 30, 6, 8
		case "PK\x01\x02":
			nameOff, flagOff, methodOff = 46, 8, 10
		default:
			continue
		}
		var n int
		if nameOff == 30 {
			n = int(b[i+26]) | int(b[i+27])<<8
		} else {
			n = int(b[i+28]) | int(b[i+29])<<8
		}
		if i+nameOff+n > len(b) || string(b[i+nameOff:i+nameOff+n]) != name {
			continue
		}
		if method != 0 {
			b[i+methodOff], b[i+methodOff+1] = byte(method), byte(method>>8)
		}
		b[i+flagOff] |= byte(flags)
		patched++
	}
	if patched != 2 {
		ts.Fatalf("mkarchive: patched %d headers of %s, want 2", patched, name)
	}
}

// waitBound bounds every wait of a script for something to happen: long
// enough for a loaded machine (CI under -race with other jobs) never to
// reach it when all is well, and still a failure, saying what was awaited,
// when it never happens.
const waitBound = 2 * time.Minute

// waitfile FILE: wait for FILE to exist.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	p := ts.MkAbs(args[0])
	deadline := time.Now().Add(waitBound)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within %v", args[0], waitBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitexec PROG [ARGS...]: run PROG until it succeeds (exit status 0);
// ! waitexec: until it fails. Its last output is kept as exec's is.
func cmdWaitExec(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: [!] waitexec PROG [ARGS...]")
	}
	deadline := time.Now().Add(waitBound)
	for {
		err := ts.Exec(args[0], args[1:]...)
		if (err == nil) != neg {
			return
		}
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			ts.Fatalf("%s: %v", args[0], err)
		}
		if time.Now().After(deadline) {
			want := "succeed"
			if neg {
				want = "fail"
			}
			ts.Fatalf("%s did not %s within %v; its last output:\n%s%s", strings.Join(args, " "), want, waitBound,
				ts.ReadFile("stdout"), ts.ReadFile("stderr"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
