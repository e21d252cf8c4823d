package cmd_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/bcrypt"
)

// registry [-tls] [-auth USER:PASS] [-token T] VAR: start Debian's
// docker-registry (the CNCF distribution registry) on 127.0.0.1 with its
// own storage under $WORK, and set $VAR to its host:port. With -tls it
// serves HTTPS with a fresh self-signed certificate that $SSL_CERT_FILE then
// trusts; with -auth it asks for those credentials (htpasswd), which
// $DOCKER_CONFIG/config.json then holds, as docker login writes them. With
// -token, $VAR is a proxy in front of it that wants "Authorization: Bearer
// T" (a registry's token authentication, the token already issued) and
// $VAR_TOKENVAR names the variable that carries a token for it.
func cmdRegistry(ts *testscript.TestScript, neg bool, args []string) {
	useTLS, user, pass, token := false, "", "", ""
	for len(args) > 1 {
		switch args[0] {
		case "-tls":
			useTLS, args = true, args[1:]
		case "-token":
			token, args = args[1], args[2:]
		case "-auth":
			var ok bool
			if user, pass, ok = strings.Cut(args[1], ":"); !ok {
				ts.Fatalf("-auth USER:PASS")
			}
			args = args[2:]
		default:
			ts.Fatalf("usage: registry [-tls] [-auth USER:PASS] [-token T] VAR")
		}
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: registry [-tls] [-auth USER:PASS] [-token T] VAR")
	}
	name := args[0]
	dir := ts.MkAbs("registry-" + name)
	ts.Check(os.MkdirAll(filepath.Join(dir, "storage"), 0o755))
	extra := ""
	client := &http.Client{Timeout: 2 * time.Second}
	scheme := "http"
	if useTLS {
		cert, key := selfSigned(ts, dir)
		extra += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, key)
		ts.Setenv("SSL_CERT_FILE", cert)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(ts.ReadFile(cert)))
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		scheme = "https"
	}
	authConf := ""
	if user != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		ts.Check(err)
		htp := filepath.Join(dir, "htpasswd")
		ts.Check(os.WriteFile(htp, []byte(user+":"+string(h)+"\n"), 0o600))
		authConf = fmt.Sprintf("auth:\n  htpasswd:\n    realm: plugctl-test\n    path: %s\n", htp)
	}
	var addr string
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		// The registry cannot listen on port 0: take a free port and
		// give it back; another process may grab it meanwhile, so retry.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		addr = ln.Addr().String()
		ln.Close()
		conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n%s%s",
			filepath.Join(dir, "storage"), addr, extra, authConf)
		confPath := filepath.Join(dir, "config.yml")
		ts.Check(os.WriteFile(confPath, []byte(conf), 0o644))
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("log-%d", attempt)))
		ts.Check(err)
		c := exec.Command("docker-registry", "serve", confPath)
		c.Stdout, c.Stderr = logf, logf
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		ts.Check(c.Start())
		exited := make(chan error, 1)
		go func() { exited <- c.Wait(); logf.Close() }()
		if lastErr = waitRegistry(client, scheme+"://"+addr+"/v2/", exited); lastErr == nil {
			ts.Defer(func() {
				syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
				<-exited
			})
			break
		}
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-exited
		addr = ""
	}
	if addr == "" {
		ts.Fatalf("docker-registry did not start: %v (logs in %s)", lastErr, dir)
	}
	if user != "" {
		cfgDir := filepath.Join(dir, "docker")
		ts.Check(os.MkdirAll(cfgDir, 0o700))
		b, _ := json.Marshal(map[string]any{"auths": map[string]any{
			addr: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))},
		}})
		ts.Check(os.WriteFile(filepath.Join(cfgDir, "config.json"), b, 0o600))
		ts.Setenv("DOCKER_CONFIG", cfgDir)
	}
	if token != "" {
		addr = bearerProxy(ts, addr, token)
		ts.Setenv(name+"_TOKENVAR", "PLUGCTL_TOKEN_"+strings.NewReplacer(".", "_", ":", "_").Replace(addr))
	}
	ts.Setenv(name, addr)
}

// bearerProxy serves on 127.0.0.1 what the plain-HTTP registry at backend
// serves, to requests bearing the token; others get the 401 challenge of
// a registry with token authentication, whose realm is on the same host.
func bearerProxy(ts *testscript.TestScript, backend, token string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	target := &url.URL{Scheme: "http", Host: backend}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, ln.Addr()))
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		r.Header.Del("Authorization")
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	ts.Defer(func() { srv.Close() })
	return ln.Addr().String()
}

// waitRegistry polls url until the registry answers (any status: 401 is
// an answer) or exits.
func waitRegistry(client *http.Client, url string, exited chan error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("exited: %v", err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer at %s within 15s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and localhost and its key
// into dir.
func selfSigned(ts *testscript.TestScript, dir string) (cert, key string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "plugctl test registry"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	ts.Check(err)
	kb, err := x509.MarshalECPrivateKey(k)
	ts.Check(err)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ts.Check(os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	ts.Check(os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return cert, key
}

// stall VAR: listen on 127.0.0.1, accept connections and never answer;
// set $VAR to host:port. A registry that hangs.
func cmdStall(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: stall VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	ts.Defer(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	ts.Setenv(args[0], ln.Addr().String())
}

// setvar VAR FILE: set $VAR to FILE's content without surrounding space
// (a digest a tool printed, say).
func cmdSetVar(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: setvar VAR FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}

var httpServers sync.Map // $WORK + " " + VAR → *http.Server of httpserve

// httpstop VAR: stop the server httpserve started as $VAR; its address
// then refuses connections.
func cmdHTTPStop(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpstop VAR")
	}
	v, ok := httpServers.Load(ts.Getenv("WORK") + " " + args[0])
	if !ok {
		ts.Fatalf("no server %s", args[0])
	}
	ts.Check(v.(*http.Server).Close())
}

// corruptblob VAR SHA256: flip the first byte of the blob SHA256 in the
// storage of the registry started as VAR, as a failing disk or a hostile
// registry would serve it.
func cmdCorruptBlob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || len(args[1]) != 64 {
		ts.Fatalf("usage: corruptblob VAR SHA256")
	}
	p := filepath.Join(ts.MkAbs("registry-"+args[0]), "storage", "docker", "registry", "v2", "blobs", "sha256", args[1][:2], args[1], "data")
	b, err := os.ReadFile(p)
	ts.Check(err)
	b[0] ^= 0xff
	ts.Check(os.WriteFile(p, b, 0o644))
}
