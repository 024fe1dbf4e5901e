package loop

import (
	"testing"
	"time"
)

// TestIdleScratch: a loop keeps its drained batches and its write scratch
// while it uses them, and gives them back once it has not for a second.
func TestIdleScratch(t *testing.T) {
	w := &worker{}
	fill := func() {
		w.free = append(w.free[:0], &batch{buf: make([]byte, 0, 1<<20), owner: w})
		w.freeBytes = 1 << 20
		w.wbuf = make([]byte, 0, 1<<20)
	}
	fill()
	w.now = int64(10 * time.Second)
	w.lastScratch = w.now - int64(500*time.Millisecond)
	w.idleScratch()
	if len(w.free) != 1 || w.freeBytes != 1<<20 || cap(w.wbuf) != 1<<20 {
		t.Fatalf("a loop busy half a second ago lost its scratch: %d batches, %d bytes, wbuf %d",
			len(w.free), w.freeBytes, cap(w.wbuf))
	}
	w.lastScratch = w.now - int64(2*time.Second)
	w.idleScratch()
	if len(w.free) != 0 || w.freeBytes != 0 || w.wbuf != nil {
		t.Fatalf("an idle loop kept its scratch: %d batches, %d bytes, wbuf %d",
			len(w.free), w.freeBytes, cap(w.wbuf))
	}
}
