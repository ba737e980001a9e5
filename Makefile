# meshgate — common tasks. `make run` and `make test` are the two a newcomer needs.
GO       ?= go
BIN      := bin/meshgate
PKGS     := ./...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
SIM_ADDR ?= 127.0.0.1:4403
DEMO_DIR ?= .demo
FUZZTIME ?= 15s
CHAOS_FLAGS ?=
CHAOS_FUZZTIME ?= 10s

.PHONY: all build run sim test vet fmt-check unit proto proto-check fuzz bench interop chaos clean

all: build

## build: the static meshgate binary in bin/ (no cgo; the Dockerfile uses the same command)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/meshgate

## run: the gateway in demo mode: two simulated radios, 127.0.0.1:2222, any key accepted (loopback only)
run: build
	$(BIN) serve --demo --data-dir $(DEMO_DIR)

## sim: just a simulated radio on $(SIM_ADDR); inspect it with `bin/meshgate info $(SIM_ADDR)`
sim: build
	$(BIN) sim --listen $(SIM_ADDR) --seed 1 --nodes 40 --traffic 3s

## test: everything CI checks
test: fmt-check vet proto-check unit interop

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

## proto: regenerate meshtastic/pb from meshtastic/proto (needs protoc)
proto:
	sh meshtastic/proto/generate.sh

## proto-check: the committed generated code matches the schemas (skipped without protoc)
proto-check:
	@if command -v protoc >/dev/null 2>&1; then \
		tmp=$$(mktemp -d) && cp -r meshtastic/pb "$$tmp/pb" && sh meshtastic/proto/generate.sh && \
		if ! diff -r "$$tmp/pb" meshtastic/pb >/dev/null; then \
			echo "meshtastic/pb is stale: run 'make proto' and commit"; rm -rf "$$tmp"; exit 1; fi; \
		rm -rf "$$tmp"; echo "proto-check: generated code up to date"; \
	else echo "proto-check: protoc not installed, skipped"; fi

## fuzz: run every fuzz target briefly (FUZZTIME each)
fuzz:
	GO=$(GO) .ci/fuzz-one FuzzReader ./meshtastic/frame $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzParse ./auth $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzToRadio ./meshtastic/sim $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzTemplate ./responder $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzSplit ./command $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzClean ./format $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzEscape ./logging $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzPasteLimiter ./server $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzToRadio ./vnode $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzCanvas ./chart $(FUZZTIME)
	GO=$(GO) .ci/fuzz-one FuzzSparkline ./chart $(FUZZTIME)

## chaos: the reliability scenarios of docs/reliability.md, short form (a few minutes), then every
## fuzz target for CHAOS_FUZZTIME. The published run: make chaos CHAOS_FLAGS=-long CHAOS_FUZZTIME=10m
chaos: build
	$(GO) run ./cmd/meshchaos -meshgate $(BIN) $(CHAOS_FLAGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(CHAOS_FUZZTIME)

## bench: benchmarks (frame decode, handshake with 200 nodes, fan-out, sessions)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./meshtastic/... ./radio/ ./sessions/ ./server/

## interop: check our wire format against the official @meshtastic/protobufs npm package
interop:
	$(GO) build -o $(BIN) ./cmd/meshgate
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(GO) build -o "$$tmp/gocorpus" ./meshtastic/interop/gocorpus && \
	"$$tmp/gocorpus" -out "$$tmp" && \
	(cd meshtastic/interop && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
	rc=0; \
	(cd meshtastic/interop && INTEROP_DIR="$$tmp" MESHGATE_BIN="$(CURDIR)/$(BIN)" npm test --silent) || rc=1; \
	echo "gocorpus -check: decoding the JS corpus with meshtastic/pb"; \
	"$$tmp/gocorpus" -check "$$tmp/js-corpus.json" || rc=1; \
	exit $$rc

clean:
	rm -rf bin
