# authledger — two set-up commands on a fresh machine: `make run`, `make test`.
GO      ?= go
BIN     := bin/authledger
PKGS    := ./...
# A count, not a duration: Go 1.26's fuzz coordinator can fail a target with a
# bare "context deadline exceeded" when a -fuzztime duration ends mid-run
# (golang/go#75804, fixed in 1.27); a count has no deadline to race.
FUZZTIME ?= 10000x

.PHONY: run build test lint services unit fuzz bench clean

## run: build and start `authledger serve` on the embedded profile (SQLite in ./data)
run: build
	./$(BIN) serve

build:
	$(GO) build -o $(BIN) ./cmd/authledger

## test: the whole suite — services, lint, race tests, short fuzzing
test: services lint unit fuzz

services:
	./scripts/services.sh
	./scripts/chromium.sh

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

## bench: the benchmarks quoted in README.md
bench: services
	$(GO) test -run '^$$' -bench . -benchtime 2s $(PKGS)

clean:
	rm -rf bin
