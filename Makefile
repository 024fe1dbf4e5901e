# Canopy's developer entry points. Everything installs from the Go module proxy.
GO          ?= go
BIN         := bin
PKGS        := ./...
NATS_CLI    := .cache/bin/nats
STATICCHECK := .cache/bin/staticcheck
NATS_SERVER := .cache/bin/nats-server

.PHONY: build run test test-race bench bench-compare bench-quick lint fuzz chaos clean

build:
	$(GO) build -o $(BIN)/canopy ./cmd/canopy
	$(GO) build -o $(BIN)/canopy-bench ./cmd/canopy-bench
	$(GO) build -o $(BIN)/canopy-chaos ./cmd/canopy-chaos

# Runs the server on its embedded default configuration (0.0.0.0:4222).
run: build
	$(BIN)/canopy $(ARGS)

# The whole test suite: real nats.go clients and a real nats-server v2.15.2,
# then the packages with cross-loop entry points again under the race
# detector.
test: $(NATS_CLI)
	$(GO) vet $(PKGS)
	NATS_CLI=$(CURDIR)/$(NATS_CLI) $(GO) test -count=1 -timeout 9m $(PKGS)
	$(GO) test -race -count=1 -timeout 9m ./loop/... ./sublist/... ./auth/... ./leaf/... ./monitor/...

# The packages with cross-loop entry points, under the race detector.
test-race:
	$(GO) test -race -count=1 -timeout 9m ./loop/... ./sublist/... ./auth/... ./leaf/... ./monitor/...

# The nats CLI, for the test that drives Canopy with it as a user would.
$(NATS_CLI):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/nats-io/natscli/nats@v0.5.0

# nats-server v2.15.2, the reference make chaos runs beside Canopy.
$(NATS_SERVER):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/nats-io/nats-server/v2@v2.15.2

# staticcheck, for make lint; v0.8.2 is the release that knows go1.26.
$(STATICCHECK):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Go benchmarks of the hot path (parser, sublist, auth, loop).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./parser/ ./sublist/ ./auth/ ./loop/

# Canopy against nats-server v2.15.2 (built from the Go module proxy into
# .cache/bin) on this machine: every scenario in alternation, 3 pairs,
# medians and Canopy/nats-server ratios. The JSON report goes to
# .cache/bench-compare.json.
bench-compare: build
	sh bench/bench-compare.sh --pairs 3 $(ARGS)

# The same, one pair per scenario: a quick look.
bench-quick: build
	sh bench/bench-compare.sh --quick $(ARGS)

# gofmt, vet and staticcheck (its exclusions, each with its reason, are in
# the staticcheck.conf files).
lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

# Each fuzz target for FUZZTIME (one worker: the machine is shared). The
# loop targets drive a running server: leaf protocol on its leafnode port,
# mutated configs through its reload.
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -parallel 1 ./parser/
	$(GO) test -run '^$$' -fuzz '^FuzzLeafProto$$' -fuzztime $(FUZZTIME) -parallel 1 ./loop/
	$(GO) test -run '^$$' -fuzz '^FuzzConfigReload$$' -fuzztime $(FUZZTIME) -parallel 1 ./loop/

# The chaos and abuse suite (about 10 minutes, loopback only, not part of
# make test): the same abuse against Canopy and nats-server v2.15.2 started
# from the same config, checks after each scenario, a summary side by side.
# ARGS="--only NAME" runs some scenarios. It fails if a check on Canopy did.
chaos: build $(NATS_SERVER)
	$(BIN)/canopy-chaos --canopy $(BIN)/canopy --nats $(NATS_SERVER) $(ARGS)

clean:
	rm -rf $(BIN) .cache
