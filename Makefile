# plugctl: `make demo` runs the whole job end to end; `make test` runs every test.
GO      ?= go
BIN     := bin
GOFLAGS ?= -buildvcs=false
export GOFLAGS

.PHONY: all build plugins demo test vet fmt-check bench setup-js setup-tools docs fuzz clean ecosystem-plugins check-ecosystems

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

# The SDK test plugins (a Terraform provider, a Grafana data source), each
# its own module under testdata/ecosystems, and the SDKs' .proto files. Slow
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

# -parallel 4: the end-to-end scripts mostly wait on the processes they run
# (plugctl, plugins, servers), so four at a time on two cores take the cmd
# suite from 370-420 s to 220-300 s under -race (measured, four runs each).
test: fmt-check vet setup-js setup-tools
	$(GO) test -race -parallel 4 -timeout 15m $(PKGS)

bench: build plugins
	./bench/run.sh

clean:
	rm -rf $(BIN)

# Tools a fresh machine lacks (the minisign tool, for interoperability tests).
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
# with the builds), from the seed corpora in each package's testdata/fuzz.
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
