// Command greeter is plugctl's example SDK plugin: a go-plugin gRPC plugin
// with the default handshake (PLUGCTL_PLUGIN=plugctl, protocol version 1),
// plugin map name "greeter", service plugctl.sdk.greeter.Greeter.
//
// One source builds every version; the major version set at link time picks
// the behaviour:
//
//	go build -o greeter ./testdata/plugins/greeter                                   # 1.0.0
//	go build -ldflags "-X main.version=2.0.0" -o greeter ./testdata/plugins/greeter  # 2.0.0
//
// Methods (v1): Greet(name) "Hello, <name>!", Version() the version string,
// Fail(message) an error with that message (codes.Unknown). v2 answers Greet
// with "Hi there, <name>!" and adds Farewell(name) "Goodbye, <name>!".
package main

import (
	"errors"
	"strings"

	"github.com/plugctl/plugctl/sdk"
)

// version is set with -ldflags "-X main.version=…".
var version = "1.0.0"

type greeterV1 struct{}

// Greet greets name ("world" when empty).
func (greeterV1) Greet(name string) string { return "Hello, " + orWorld(name) + "!" }

// Version reports the version the binary was built as.
func (greeterV1) Version() string { return version }

// Fail always fails, with message when one is given.
func (greeterV1) Fail(message string) error {
	if message == "" {
		message = "greeter failed on purpose"
	}
	return errors.New(message)
}

type greeterV2 struct{ greeterV1 }

// Greet greets name, the v2 way.
func (greeterV2) Greet(name string) string { return "Hi there, " + orWorld(name) + "!" }

// Farewell is new in v2.
func (greeterV2) Farewell(name string) string { return "Goodbye, " + orWorld(name) + "!" }

func orWorld(name string) string {
	if name == "" {
		return "world"
	}
	return name
}

func main() {
	var impl any = greeterV1{}
	if major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), "."); major != "0" && major != "1" {
		impl = greeterV2{}
	}
	sdk.ServeConfig{Name: "greeter"}.Serve(impl)
}
