# Canopy's developer entry points. Everything installs from the Go module proxy.
GO          ?= go
BIN         := bin
NATS_SERVER := .cache/bin/nats-server
PKGS        := ./...

.PHONY: build run test test-race bench bench-compare bench-quick lint fuzz clean

build:
	$(GO) build -o $(BIN)/canopy ./cmd/canopy
	$(GO) build -o $(BIN)/canopy-bench ./cmd/canopy-bench

# Runs the server on its embedded default configuration (0.0.0.0:4222).
run: build
	$(BIN)/canopy $(ARGS)

# The whole test suite: real nats.go clients and a real nats-server v2.15.2.
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 9m $(PKGS)

# The packages with cross-loop entry points, under the race detector.
test-race:
	$(GO) test -race -count=1 -timeout 9m ./loop/... ./sublist/... ./auth/... ./leaf/... ./monitor/...

# Go benchmarks of the hot path (parser, sublist, auth, loop).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./parser/ ./sublist/ ./auth/ ./loop/

$(NATS_SERVER):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/nats-io/nats-server/v2@v2.15.2

# Canopy against nats-server v2.15.2 on this machine, every scenario, medians of 3 pairs.
bench-compare: build $(NATS_SERVER)
	$(BIN)/canopy-bench suite --a $(NATS_SERVER) --b $(BIN)/canopy --pairs 3 $(ARGS)

bench-quick: build $(NATS_SERVER)
	$(BIN)/canopy-bench suite --a $(NATS_SERVER) --b $(BIN)/canopy --quick $(ARGS)

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./parser/

clean:
	rm -rf $(BIN) .cache
