# plugctl: `make demo` runs the whole job end to end; `make test` is the
# fast loop (unit tests and the quick scripts); `make check` runs everything
# CI runs (see CONTRIBUTING.md).
GO      ?= go
BIN     := bin
GOFLAGS ?= -buildvcs=false
export GOFLAGS
# Tools that setup-tools installs with go install (staticcheck, oras) land
# in GOPATH/bin, which a fresh machine may not have on its PATH.
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

.PHONY: all build plugins demo test check vet staticcheck fmt-check bench setup-js setup-tools docs fuzz clean ecosystem-plugins check-ecosystems

all: build

# One executable, the whole tool (go build . gives the same). Pure Go and
# static: no libc to load at every start.
# plugctl version reports VERSION and the commit (git describe and rev-parse
# when this is a git checkout; nothing stamped otherwise: "(devel)").
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X github.com/plugctl/plugctl/cmd.buildVersion=$(VERSION) -X github.com/plugctl/plugctl/cmd.buildCommit=$(COMMIT)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/plugctl .

# The example plugins in testdata/plugins (see testdata/plugins/README.md).
plugins:
	./scripts/build-plugins.sh $(BIN)/plugins

# The SDK test plugins (a Terraform provider, a Grafana data source, a Vault
# secrets engine with its storage host), each its own module under
# testdata/ecosystems, and the SDKs' .proto files. Slow
# (docs/ecosystems.md): make check builds them once; make test skips the
# scripts that need them, saying why.
ECOSYSTEMS := $(BIN)/ecosystems
ecosystem-plugins:
	./scripts/build-ecosystem-plugins.sh $(ECOSYSTEMS)

check-ecosystems: ecosystem-plugins
	PLUGCTL_ECOSYSTEMS=$(CURDIR)/$(ECOSYSTEMS) $(GO) test -race -timeout 10m ./cmd -run 'TestScripts/eco_|TestEcosystemDocsRun'

# Node modules of the JavaScript example plugin (npm registry).
setup-js:
	./scripts/setup-js.sh

demo: setup-js build plugins
	./scripts/demo.sh

# ./... skips directories named testdata: the example plugins are named
# explicitly.
PKGS := ./... ./testdata/plugins/...

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The fast loop: -short skips the slow scripts and those that need tools
# from outside (each says why), no race detector.
test: fmt-check vet
	$(GO) test -short $(PKGS)

# Everything CI runs: every test and script under the race detector, with
# every outside tool installed (a missing one fails instead of skipping),
# the fuzz targets briefly, staticcheck and vet.
# -parallel 4: the end-to-end scripts mostly wait on the processes they run
# (plugctl, plugins, servers), so four at a time on two cores finish sooner.
# The fuzz smoke is bounded by a count of runs, not a duration: Go's fuzzing
# coordinator can fail a target with "context deadline exceeded" when a
# duration ends while a loaded machine's worker is mid-run (go.dev/issue/75804,
# not fixed in Go 1.26).
check: fmt-check vet staticcheck setup-js setup-tools ecosystem-plugins
	PLUGCTL_TEST_REQUIRE_TOOLS=1 PLUGCTL_ECOSYSTEMS=$(CURDIR)/$(ECOSYSTEMS) $(GO) test -race -parallel 4 -timeout 30m $(PKGS)
	$(MAKE) fuzz FUZZTIME=20000x

# The version setup-tools installs (scripts/setup-tools.sh).
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
staticcheck: setup-tools
	$(STATICCHECK) $(PKGS)

bench: build plugins
	./bench/run.sh

clean:
	rm -rf $(BIN)

# Tools a fresh machine lacks: the minisign tool (interoperability tests)
# and staticcheck.
setup-tools:
	./scripts/setup-tools.sh

# The command reference: docs/cli/*.md and docs/man/*.1, committed; the
# gendocs test fails when they differ from the commands. Regenerated from
# scratch, so that a removed command's page goes too.
docs:
	rm -rf docs/cli docs/man
	$(GO) run ./internal/gendocs -format markdown docs/cli
	$(GO) run ./internal/gendocs -format man docs/man

# Every fuzz target for FUZZTIME each (default 20s; about two minutes in all
# with the builds; a count such as 20000x works too), from the seed corpora
# in each package's testdata/fuzz.
FUZZTIME ?= 20s
FUZZ_TARGETS := ./index:FuzzParse ./index:FuzzResolve ./install:FuzzExtract \
	./runtime/internal/gobwire:FuzzDecode ./runtime/internal/gobwire:FuzzFromJSON \
	./runtime:FuzzMsgpackToJSON
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done
