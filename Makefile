# Canopy's developer entry points. Everything installs from the Go module proxy.
GO          ?= go
BIN         := bin
PKGS        := ./...
NATS_CLI    := .cache/bin/nats
STATICCHECK := .cache/bin/staticcheck

.PHONY: build run test test-race bench bench-compare bench-quick lint fuzz clean

build:
	$(GO) build -o $(BIN)/canopy ./cmd/canopy
	$(GO) build -o $(BIN)/canopy-bench ./cmd/canopy-bench

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

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./parser/

clean:
	rm -rf $(BIN) .cache
