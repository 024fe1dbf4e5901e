package loop_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
)

// TestLameDuck puts a server with four clients in lame-duck mode: every
// client is told with an INFO carrying "ldm":true (nats.go's lame-duck
// callback fires), new connections are turned away, no client is closed
// before the grace period, the closes are spread over the rest of the
// duration, and the server then stops.
func TestLameDuck(t *testing.T) {
	opts, _, err := conf.Parse([]byte(`listen: "127.0.0.1:-1"`), "ldm.conf")
	if err != nil {
		t.Fatal(err)
	}
	// Far below the 30 s minimum a configuration file may set, for speed.
	const grace, duration = 200 * time.Millisecond, 600 * time.Millisecond
	opts.LameDuckGracePeriod, opts.LameDuckDuration = grace, duration
	s := natstest.StartCanopyOpts(t, opts, "")

	const n = 4
	told := make(chan struct{}, n)
	closed := make(chan time.Time, n)
	for range n {
		nc := natstest.Connect(t, s.ClientURL(), nats.NoReconnect(),
			nats.LameDuckModeHandler(func(*nats.Conn) { told <- struct{}{} }),
			nats.ClosedHandler(func(*nats.Conn) { closed <- time.Now() }))
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	go s.LameDuck()
	for i := range n {
		select {
		case <-told:
		case <-time.After(wait):
			t.Fatalf("%d of %d clients told of lame-duck mode", i, n)
		}
	}
	if !s.LameDuckMode() {
		t.Error("LameDuckMode is false")
	}
	if nc, err := nats.Connect(s.ClientURL(), nats.Timeout(time.Second), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("a new client connected during lame-duck mode")
	}

	var times []time.Time
	for i := range n {
		select {
		case at := <-closed:
			times = append(times, at)
		case <-time.After(wait):
			t.Fatalf("%d of %d clients closed", i, n)
		}
	}
	for _, at := range times {
		if at.Sub(start) < grace {
			t.Errorf("a client closed %v after lame-duck mode began, inside the %v grace period", at.Sub(start), grace)
		}
	}
	// Four closes over the remaining 400 ms are at least 50 ms apart (half
	// the 100 ms interval); the first and last at least three of those.
	if spread := times[n-1].Sub(times[0]); spread < 3*(duration-grace)/n/2 {
		t.Errorf("closes spread over %v only", spread)
	}
	select {
	case <-s.Done():
	case <-time.After(wait):
		t.Fatal("server still running after lame-duck mode")
	}
}
