package loop

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// After a burst of TLS handshakes (a fleet of devices reconnecting) the
// heap holds the handshakes' garbage, and the Go runtime gives the pages
// back to the system only slowly. Once such a burst has settled, Canopy
// returns them at once: one forced collection on a goroutine of its own,
// at most every trimEvery, never on a loop. Idle connections then cost
// what they hold, not what their handshakes left behind.
const (
	trimAfter = 256              // handshakes since the last trim
	trimQuiet = time.Second      // without a new handshake
	trimEvery = 10 * time.Second // between trims
)

// trimState counts handshakes for trimMemory; its fields are atomics,
// written by the loops and read on gnet's ticker goroutine.
type trimState struct {
	handshakes atomic.Int64 // since the last trim
	last       atomic.Int64 // unix nanos of the last handshake
	lastTrim   atomic.Int64
	running    atomic.Bool
}

// noteHandshake counts one finished handshake.
func (s *Server) noteHandshake(now int64) {
	s.trim.handshakes.Add(1)
	s.trim.last.Store(now)
}

// maybeTrim runs from OnTick: it starts a trim when a burst has settled.
func (s *Server) maybeTrim(now int64) {
	t := &s.trim
	if t.handshakes.Load() < trimAfter || now-t.last.Load() < int64(trimQuiet) || now-t.lastTrim.Load() < int64(trimEvery) {
		return
	}
	if !t.running.CompareAndSwap(false, true) {
		return
	}
	t.handshakes.Store(0)
	t.lastTrim.Store(now)
	go func() {
		defer t.running.Store(false)
		debug.FreeOSMemory()
	}()
}
