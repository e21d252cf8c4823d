# plugctl: `make demo` runs the whole job end to end; `make test` is the
# fast loop (unit tests and the quick scripts); `make check` runs everything
# CI runs (see CONTRIBUTING.md).
GO      ?= go
BIN     := bin
GOFLAGS ?= -buildvcs=false
export GOFLAGS

.PHONY: all build plugins demo test check vet staticcheck fmt-check bench setup-js setup-tools docs fuzz clean

all: build

# Two executables from one main package (README.md, "Two executables"):
# bin/plugctl, the front end, serves the commands that run plugins and is
# linked without the code that installs them (-tags plugctl_lean: a warm call
# starts in about half the time); every other command it hands, by exec, to
# bin/plugctl-core, the whole CLI, which also works alone. Both are pure Go
# and static: no libc to load at every start (measured: --help 0.88x, a cold
# call 0.96x of the cgo build).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags plugctl_lean -o $(BIN)/plugctl .
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/plugctl-core .

# The example plugins in testdata/plugins (see testdata/plugins/README.md).
plugins:
	./scripts/build-plugins.sh $(BIN)/plugins

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
	$(GO) vet -tags plugctl_lean . ./cmd ./runtime

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
check: fmt-check vet staticcheck setup-js setup-tools
	PLUGCTL_TEST_REQUIRE_TOOLS=1 $(GO) test -race -parallel 4 -timeout 30m $(PKGS)
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

# The command reference: docs/cli/*.md and docs/man/*.1.
docs:
	$(GO) run ./internal/gendocs -format markdown docs/cli
	$(GO) run ./internal/gendocs -format man docs/man

# Every fuzz target for FUZZTIME each (default 20s; about two minutes in all
# with the builds; a count such as 20000x works too), from the seed corpora
# in each package's testdata/fuzz.
FUZZTIME ?= 20s
FUZZ_TARGETS := ./index:FuzzParse ./index:FuzzResolve ./install:FuzzExtract \
	./runtime/internal/gobwire:FuzzDecode ./runtime/internal/gobwire:FuzzFromJSON
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done
