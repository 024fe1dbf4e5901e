package loop

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// LameDuck runs lame-duck mode to its end, as nats-server's does, and
// returns once the server has shut down (or at once if it is already in
// lame-duck mode or stopping):
//
//  1. new connections are turned away as they arrive (gnet cannot close a
//     listener alone, so they are accepted and closed at once rather than
//     refused), and the leaf remotes stop dialling;
//  2. every client that takes asynchronous INFO gets one with "ldm":true,
//     which tells nats.go to move elsewhere;
//  3. after lame_duck_grace_period the clients and leaf links are closed
//     one by one, at random intervals that spread the closes over what is
//     left of lame_duck_duration (at most one second apart);
//  4. the server shuts down.
//
// A Shutdown during lame-duck mode ends it early.
func (s *Server) LameDuck() {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if !running || s.shutdown.Load() || !s.ops.ldm.CompareAndSwap(false, true) {
		return
	}
	s.log.Noticef("Entering lame duck mode, stop accepting new clients")
	s.lameDuckEvent()
	s.stopAllRemotes()
	opts := s.Options()

	// Telling the clients and listing them happen on their loops, in the
	// same task: OnOpen runs on the loops too and refuses every connection
	// from now on, so no client can slip between the list and the INFO.
	per, err := onLoops(s.knownWorkers(), func(w *worker) []*client {
		var cs []*client
		for _, c := range w.clients {
			if c.closed.Load() {
				continue
			}
			switch c.kind {
			case kindClient:
				if c.connected && c.infoSent && c.protocol >= 1 {
					c.out = s.appendLDMInfo(c.out, c)
					w.markDirty(c)
				}
			case kindLeaf:
			default:
				continue
			}
			cs = append(cs, c)
		}
		w.flush()
		return cs
	})
	if err != nil {
		s.log.Errorf("Lame duck mode: %v", err)
	}
	var clients []*client
	for _, cs := range per {
		clients = append(clients, cs...)
	}
	if len(clients) > 0 && s.closeGradually(clients, opts.LameDuckDuration, opts.LameDuckGracePeriod) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil && err != ErrNotRunning {
		s.log.Errorf("Lame duck mode: %v", err)
	}
}

// closeGradually waits the grace period, then closes the connections one by
// one over the rest of the lame-duck duration. It returns true when the
// server stopped meanwhile.
func (s *Server) closeGradually(clients []*client, dur, grace time.Duration) bool {
	spread := int64(dur - grace)
	if spread <= 0 {
		spread = int64(time.Second)
	}
	n := int64(len(clients))
	// One close every interval, or when there are more connections than
	// nanoseconds, batches of them between yields.
	interval := spread / n
	batch := int64(1)
	if interval < 1 {
		interval = 1
		batch = n / spread
	} else if interval > int64(time.Second) {
		interval = int64(time.Second)
	}
	rand.Shuffle(len(clients), func(i, j int) { clients[i], clients[j] = clients[j], clients[i] })
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
		return true
	}
	s.log.Noticef("Closing existing clients")
	for i, c := range clients {
		c.closeOnLoop(reasonServerShutdown)
		if i == len(clients)-1 || (batch > 1 && int64(i)%batch != 0) {
			continue
		}
		// At least half the interval, so the closes stay spread out.
		d := max(rand.Int64N(interval), interval/2)
		t.Reset(time.Duration(d))
		select {
		case <-t.C:
		case <-s.done:
			return true
		}
	}
	return false
}

// LameDuckMode reports whether the server is in lame-duck mode.
func (s *Server) LameDuckMode() bool { return s.ops.ldm.Load() }

// stopAllRemotes stops every leaf remote from dialling again; their links
// stay up until closed.
func (s *Server) stopAllRemotes() {
	s.ops.mu.Lock()
	runs := make([]*remoteRun, 0, len(s.ops.remotes))
	for _, rr := range s.ops.remotes {
		runs = append(runs, rr)
	}
	s.ops.mu.Unlock()
	for _, rr := range runs {
		rr.cancel()
	}
}

// appendLDMInfo appends the INFO that tells a client the server is in
// lame-duck mode: the client's INFO with "ldm":true, as nats-server sends
// it (client id and address, no nonce).
func (s *Server) appendLDMInfo(b []byte, c *client) []byte {
	inf := s.baseInfo()
	inf.ClientID = c.cid
	inf.ClientIP = c.ip()
	inf.LDM = true
	return frameInfo(b, &inf)
}

// closeOnLoop closes c, without a word, on its own loop. It may be called
// from any goroutine.
func (c *client) closeOnLoop(reason closeReason) {
	_ = c.w.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		c.closeWith(reason, "")
		c.w.flush()
		return nil
	}))
}
