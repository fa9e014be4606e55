# conduit — the two commands that matter: `sudo make demo` and `sudo make test`.
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build demo test unit vet fuzz bench docs clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

## demo: build, create a plant in network namespaces, run conduit inline, drive traffic, switch to enforce, tear down
demo: build
	scripts/demo

## test: vet, then every test with the race detector (the netns end-to-end tests need root and skip without it)
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...

unit:
	$(GO) test -race -count=1 -short ./...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz: a short run of every fuzz target (FUZZTIME=2m for longer); the inputs found are kept
## in each package's testdata/fuzz, where `go test` replays them as regression seeds
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s $$pkg || exit 1; \
	    found=$$($(GO) env GOCACHE)/fuzz/$$pkg/$$f; keep=$$($(GO) list -f '{{.Dir}}' $$pkg)/testdata/fuzz/$$f; \
	    if [ -d "$$found" ]; then mkdir -p "$$keep" && cp -n "$$found"/* "$$keep"/; fi; \
	  done; \
	done

## bench: kernel vs bare go-nfqueue vs conduit in each mode, side by side (root)
bench: build
	scripts/bench

## docs: regenerate docs/report.png, the README's screenshot of the plant report (headless chromium)
docs:
	mkdir -p docs
	$(GO) test -count=1 -run '^TestReportBrowser$$' ./cmd/conduit -args -report-png=$(CURDIR)/docs/report.png

clean:
	rm -rf $(BIN) .bench
