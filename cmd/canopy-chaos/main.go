// Command canopy-chaos is `make chaos`: the chaos and abuse suite of the
// bench package (bench.RunChaos) against Canopy and nats-server, started
// from the same configuration, with their results printed side by side.
//
// Usage:
//
//	canopy-chaos --canopy bin/canopy --nats .cache/bin/nats-server [--only NAME] [--seed N] [--profiles DIR]
//
// It exits 1 when a check failed on the server under test (the first one,
// Canopy); nats-server's failures are reported in the table but are the
// reference's, not Canopy's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/canopy-nats/canopy/bench"
)

func main() {
	canopy := flag.String("canopy", "bin/canopy", "the Canopy server binary")
	natsBin := flag.String("nats", ".cache/bin/nats-server", "the nats-server v2.15.2 binary (empty: Canopy only)")
	only := flag.String("only", "", "run only the scenarios whose names contain this")
	seed := flag.Uint64("seed", 12, "seed of the fuzzed traffic, the same for both servers")
	dir := flag.String("dir", "", "directory for configs and logs (default: a new temporary one)")
	profiles := flag.String("profiles", "", "directory for each hub's heap profile after each scenario")
	flag.Parse()

	servers := []bench.ServerSpec{{Name: "canopy", Cmd: []string{*canopy}}}
	if *natsBin != "" {
		servers = append(servers, bench.ServerSpec{Name: "nats-server", Cmd: []string{*natsBin}})
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	start := time.Now()
	results, err := bench.RunChaos(ctx, bench.ChaosOptions{Servers: servers, Dir: *dir, Only: *only, Seed: *seed, Progress: os.Stderr, Profiles: *profiles})
	fmt.Printf("\nchaos summary (%s, %.0fs)\n\n", time.Now().UTC().Format(time.RFC3339), time.Since(start).Seconds())
	if werr := bench.WriteChaosTable(os.Stdout, results); werr != nil {
		fmt.Fprintln(os.Stderr, werr)
	}
	if err != nil && !errors.Is(err, bench.ErrChaos) {
		fmt.Fprintln(os.Stderr, "canopy-chaos:", err)
		os.Exit(1)
	}
	for _, r := range results {
		if r.Server == servers[0].Name && !r.OK() {
			os.Exit(1)
		}
	}
}
