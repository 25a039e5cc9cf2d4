# Strata build. `make run` starts a standalone server; `make test` runs every test.
GO       ?= go
BIN      := bin/strata
GOBIN    := $(shell $(GO) env GOPATH)/bin
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
# The S3-compatible server the tiered-storage tests run as a process (tiered/s3/s3test
# finds it in GOBIN; the version matches s3test.Module).
VERSITYGW_VERSION          := v1.8.0
VERSITYGW                  := $(GOBIN)/versitygw
# Unit tests run with the race detector. The e2e tests drive strata OS processes
# through pulsar-client-go, which has data races of its own (partition discovery vs
# Ack in v0.19.0), so they run without it, and uncached: their package imports none of
# the code under test, so a cached result could hide a changed binary.
UNIT_FLAGS ?= -race -timeout 15m -p 2
E2E_FLAGS  ?= -count=1 -timeout 15m

.PHONY: build test unit e2e run proto bench bench-storage fuzz tools clean

build:
	$(GO) build -o $(BIN) ./cmd/strata

run: build
	./$(BIN) standalone

test: build tools
	$(GO) vet ./...
	$(GO) test $(UNIT_FLAGS) $$($(GO) list ./... | grep -v /e2e)
	STRATA_BIN=$(CURDIR)/$(BIN) $(GO) test $(E2E_FLAGS) ./e2e/...

unit: tools
	$(GO) test $(UNIT_FLAGS) $$($(GO) list ./... | grep -v /e2e)

e2e: build
	STRATA_BIN=$(CURDIR)/$(BIN) $(GO) test $(E2E_FLAGS) -v ./e2e/...

# The benchmark suite (5-6 minutes on 2 cores, 10 at most; BENCH_QUICK=1 for a 1.5-minute smoke
# run): the machine's limits, NATS JetStream as the peer (built at pinned versions into
# bench/.tools), Strata standalone and a 3-bookie cluster under strata perf. Prints a
# table, writes bench/results/latest.json; see docs/benchmarks.md. Not part of make test.
bench: build
	$(GO) run ./bench/cmd/benchsuite -strata $(BIN) -go $(GO)

# The storage layer's Go benchmarks (bookie store and ledger).
bench-storage: build
	STRATA_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 3s ./bookie/...

# Test tools installed from the Go module proxy, once per machine.
tools: $(VERSITYGW)

$(VERSITYGW):
	GOBIN=$(GOBIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# The decoders of client and stored bytes, fuzzed for FUZZTIME each (default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReadFrame$$' -fuzztime $(FUZZTIME) ./broker/wire
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME) ./broker/managedledger/cursor
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeIndex$$' -fuzztime $(FUZZTIME) ./tiered/offload
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFooterHeader$$' -fuzztime $(FUZZTIME) ./tiered/offload
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./tiered/offload

# Regenerates the committed protobuf code. Installs protoc from Debian's
# protobuf-compiler when missing, and the Go plugins with go install.
proto:
	@command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	GOBIN=$(GOBIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(GOBIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH=$(GOBIN):$$PATH protoc -I proto --go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		$$(find proto -name '*.proto')

clean:
	rm -rf bin
