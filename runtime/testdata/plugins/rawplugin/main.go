// Command rawplugin speaks go-plugin's handshake by hand with a plain
// grpc.Server: health and testsvc, no reflection, no controller, no stdio
// service, no mTLS, as a plugin written in another language might.
// TESTPLUGIN_MODE=tcp makes it listen on 127.0.0.1.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/plugctl/plugctl/runtime/testdata/plugins/testsvc"
)

func main() {
	if os.Getenv("PLUGCTL_PLUGIN") != "plugctl" {
		fmt.Fprintln(os.Stderr, "This binary is a plugin. These are not meant to be executed directly.")
		os.Exit(1)
	}
	testsvc.Misbehave()
	var l net.Listener
	var err error
	if testsvc.Mode("tcp") {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	} else {
		dir := os.Getenv("PLUGIN_UNIX_SOCKET_DIR")
		if dir == "" {
			dir = os.TempDir()
		}
		l, err = net.Listen("unix", filepath.Join(dir, fmt.Sprintf("raw-%d.sock", os.Getpid())))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	grpc_health_v1.RegisterHealthServer(s, health.NewServer())
	testsvc.Register(s)
	cert := ""
	if testsvc.Mode("unasked-cert") {
		cert = selfSigned()
	}
	fmt.Printf("1|1|%s|%s|grpc|%s\n", l.Addr().Network(), l.Addr().String(), cert)
	_ = s.Serve(l)
}

// selfSigned returns a certificate as go-plugin's handshake carries it:
// base64 (raw, standard alphabet) DER.
func selfSigned() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	return base64.RawStdEncoding.EncodeToString(der)
}
