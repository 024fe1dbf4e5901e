package loop

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// After a burst of connections (a fleet of devices reconnecting) the heap
// holds what opening them left behind (TLS handshakes' garbage above
// all), and the Go runtime gives the pages back to the system only
// slowly. Once such a burst has settled, Canopy returns them at once: one
// forced collection on a goroutine of its own, at most every trimEvery,
// never on a loop. Idle connections then cost what they hold, not what
// opening them left behind.
const (
	trimAfter = 256              // connections opened since the last trim
	trimQuiet = time.Second      // without a new one
	trimEvery = 10 * time.Second // between trims
)

// trimState counts opened connections for maybeTrim; its fields are
// atomics, written by the loops and read on gnet's ticker goroutine.
type trimState struct {
	opened   atomic.Int64 // since the last trim (a TLS connection counts again at its handshake's end)
	last     atomic.Int64 // unix nanos of the last
	lastTrim atomic.Int64
	running  atomic.Bool
}

// noteOpened counts a connection opened, or a TLS handshake ended.
func (s *Server) noteOpened(now int64) {
	s.trim.opened.Add(1)
	s.trim.last.Store(now)
}

// maybeTrim runs from OnTick: it starts a trim when a burst has settled.
func (s *Server) maybeTrim(now int64) {
	t := &s.trim
	if t.opened.Load() < trimAfter || now-t.last.Load() < int64(trimQuiet) || now-t.lastTrim.Load() < int64(trimEvery) {
		return
	}
	if !t.running.CompareAndSwap(false, true) {
		return
	}
	t.opened.Store(0)
	t.lastTrim.Store(now)
	go func() {
		defer t.running.Store(false)
		debug.FreeOSMemory()
	}()
}
