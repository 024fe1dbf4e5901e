package loop

import (
	"context"
	"net"
	"os"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Waking a loop for the batches other loops hand it (worker.push) and for
// its timers (worker.scheduleTick).
//
// gnet's own way, Execute, allocates a closure and a queue node per call,
// and a loop that receives from another is woken once per traffic event of
// the sender: for large messages that is one allocation every few
// messages. Instead each loop serves one end of a socket pair as a
// connection of its own (a wakeEnd), and a sender writes one byte to the
// other end: the loop's poller sees it readable, and OnTraffic drains the
// inbox. The byte is written only when no wake-up is pending (the
// scheduled flag), so the pair never holds more than a few bytes and the
// write never blocks. Until the pair is registered, and if it cannot be
// made, push falls back to Execute.

// wakeEnd is the context of a loop's end of its wake-up pair.
type wakeEnd struct{ w *worker }

// wakeByte is what a sender writes; its value carries no meaning.
var wakeByte = [1]byte{'w'}

// startWake makes w's wake-up pair and hands one end to w's loop. It runs
// on its own goroutine, never on a loop: registering waits for the loop.
func (w *worker) startWake() {
	s := w.srv
	select {
	case <-s.loopsUp:
	case <-s.done:
		return
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		s.log.Debugf("loop %d: no wake-up pair (%v): other loops wake it with tasks", w.id, err)
		return
	}
	send := os.NewFile(uintptr(fds[0]), "wake-send")
	recv := os.NewFile(uintptr(fds[1]), "wake-recv")
	nc, err := net.FileConn(recv)
	recv.Close()
	if err != nil {
		send.Close()
		s.log.Debugf("loop %d: no wake-up pair (%v): other loops wake it with tasks", w.id, err)
		return
	}
	// gnet registers a duplicate of the descriptor and closes nc itself.
	ch, err := w.el.Enroll(gnet.NewContext(context.Background(), &wakeEnd{w: w}), nc)
	if err != nil {
		nc.Close()
		send.Close()
		return
	}
	if res := <-ch; res.Err != nil {
		send.Close()
		return
	}
	w.wakeMu.Lock()
	if w.wakeClosed {
		// The loop closed its end (shutdown) before the send end was
		// published.
		send.Close()
	} else {
		w.wake = send
	}
	w.wakeMu.Unlock()
}

// signal wakes w's loop through its pair and reports whether it could.
func (w *worker) signal() bool {
	w.wakeMu.RLock()
	f := w.wake
	ok := f != nil
	if ok {
		_, err := f.Write(wakeByte[:])
		ok = err == nil
	}
	w.wakeMu.RUnlock()
	return ok
}

// woken runs on w's loop when its end of the pair is readable: batches
// from other loops wait, or the timers are due (scheduleTick).
func (e *wakeEnd) woken(gc gnet.Conn) {
	_, _ = gc.Discard(-1)
	w := e.w
	if w.tickPending.Load() {
		w.tick()
	}
	w.drain()
}

// closed runs on w's loop when gnet closes its end (at shutdown): the send
// end goes too, under the lock senders write under.
func (e *wakeEnd) closed() {
	w := e.w
	w.wakeMu.Lock()
	w.wakeClosed = true
	if w.wake != nil {
		w.wake.Close()
		w.wake = nil
	}
	w.wakeMu.Unlock()
}
