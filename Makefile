# authledger — two set-up commands on a fresh machine: `make run`, `make test`.
GO      ?= go
BIN     := bin/authledger
# The client packages are modules of their own (go.work joins them for
# development), which ./... from the root does not cross into.
PKGS    := ./... ./client/... ./client/echoverifier/...
# A count, not a duration: Go 1.26's fuzz coordinator can fail a target with a
# bare "context deadline exceeded" when a -fuzztime duration ends mid-run
# (golang/go#75804, fixed in 1.27); a count has no deadline to race.
FUZZTIME ?= 10000x

.PHONY: run build test lint services tools interop-deps unit fuzz bench chaos clean

## run: build and start `authledger serve` on the embedded profile (SQLite in ./data)
run: build
	./$(BIN) serve

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/authledger

## test: the whole suite — services, tools, npm packages, lint, race tests, short fuzzing
test: services tools interop-deps lint unit fuzz

services:
	./scripts/services.sh
	./scripts/chromium.sh

## tools: what tests run besides Go (promtool for tests/ops)
tools:
	./scripts/tools.sh

## interop-deps: npm ci for tests/interop when node_modules is missing
interop-deps:
	./scripts/interop-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

## fuzz: every fuzz target of untrusted-input parsers, briefly
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## chaos: the fault scenarios of tests/chaos in long mode (each phase 10x
## longer than the short run inside `make test`), printing what held
chaos: services tools
	AUTHLEDGER_CHAOS=long $(GO) test -count=1 -v -timeout 45m ./tests/chaos/ > chaos.log 2>&1; s=$$?; \
	  grep -E '^(=== RUN|--- |ok|FAIL|\s+\S+_test\.go:[0-9]+: \[)' chaos.log; echo "full log: chaos.log"; exit $$s

## bench: the Go benchmarks and the mixed-load driver (tests/perf/load);
## writes docs/benchmarks.md (BENCH_PKGS, BENCHTIME, LOAD_D, LOAD_RATE tune it)
bench: services
	./scripts/bench.sh

clean:
	rm -rf bin
