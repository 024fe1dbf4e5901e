package natstest

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSCLI finds the nats command line tool (natscli): $NATS_CLI, which
// `make test` sets after installing natscli v0.5.0 into .cache/bin (and
// then the test must run), else one on PATH or in GOPATH/bin, else the
// test skips: natscli is a tool, not a Go dependency of the module.
func NATSCLI(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("NATS_CLI"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("NATS_CLI=%s: %v", p, err)
		}
		return p
	}
	if p := NATSCLIIfInstalled(); p != "" {
		return p
	}
	t.Skip("the nats CLI is not installed (make .cache/bin/nats)")
	return ""
}

// NATSCLIIfInstalled is natscli's path, or "" when it is not installed.
func NATSCLIIfInstalled() string {
	if p := os.Getenv("NATS_CLI"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "nats")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// WatchRoundTrips flushes nc over and over, a millisecond apart, until the
// returned stop is called, and stop returns the worst round trip seen and
// how many there were: how long a client on a loop waited while the test
// loaded that loop. A flush that fails fails the test.
func WatchRoundTrips(t testing.TB, nc *nats.Conn) (stop func() (worst time.Duration, n int)) {
	each := WatchEachRoundTrip(t, nc)
	return func() (time.Duration, int) {
		rtts := each()
		var worst time.Duration
		for _, d := range rtts {
			worst = max(worst, d)
		}
		return worst, len(rtts)
	}
}

// WatchEachRoundTrip is WatchRoundTrips returning every round trip, in
// order, for a test that looks at more than the worst (on a loaded
// machine the worst may be the scheduler's).
func WatchEachRoundTrip(t testing.TB, nc *nats.Conn) (stop func() []time.Duration) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	var rtts []time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-quit:
				return
			default:
			}
			began := time.Now()
			if err := nc.FlushTimeout(30 * time.Second); err != nil {
				t.Errorf("flush: %v", err)
				return
			}
			rtts = append(rtts, time.Since(began))
			time.Sleep(time.Millisecond)
		}
	}()
	return func() []time.Duration {
		close(quit)
		wg.Wait()
		return rtts
	}
}
