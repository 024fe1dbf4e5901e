package loop

import (
	"runtime"
	"sync"

	"github.com/canopy-nats/canopy/auth"
)

// Authentication that costs more than an event loop should spend on one
// connection (signatures, bcrypt; see auth.Authenticator.Costly) runs on a
// small pool of goroutines. A connection storm then queues there instead
// of stalling every connection of the loops.
//
// The queue has no fixed bound, so that a loop handing it a check never
// waits: a bounded channel that filled up in a storm froze the sending loop
// for seconds. It is bounded all the same, by the connections: each has at
// most one check queued (it sends nothing else until the check is done),
// and one whose auth timeout passes while it waits is closed on its loop
// and its check skipped by the worker that picks it up. A check a worker
// has begun is let finish, past the timeout if need be.

// authQueue holds the checks waiting for a worker.
type authQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	jobs    []func()
	head    int // jobs[head:] are waiting
	stopped bool
}

// startAuthWorkers starts one worker per core.
func (s *Server) startAuthWorkers() {
	q := &s.authq
	q.cond.L = &q.mu
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		go q.work()
	}
}

// work runs checks until the queue is stopped.
func (q *authQueue) work() {
	for {
		q.mu.Lock()
		for q.head == len(q.jobs) && !q.stopped {
			q.cond.Wait()
		}
		if q.stopped {
			q.mu.Unlock()
			return
		}
		f := q.jobs[q.head]
		q.jobs[q.head] = nil
		q.head++
		if q.head == len(q.jobs) {
			// Drained: reuse the array from its start.
			q.jobs, q.head = q.jobs[:0], 0
		}
		q.mu.Unlock()
		f()
	}
}

// authWork queues f for an auth worker. It never blocks beyond a short
// critical section, whatever the backlog.
func (s *Server) authWork(f func()) {
	q := &s.authq
	q.mu.Lock()
	if q.head > 0 && q.head >= len(q.jobs)/2 {
		// Slide the waiting jobs down rather than grow the array without
		// end while it never drains completely.
		n := copy(q.jobs, q.jobs[q.head:])
		clear(q.jobs[n:])
		q.jobs, q.head = q.jobs[:n], 0
	}
	q.jobs = append(q.jobs, f)
	q.mu.Unlock()
	q.cond.Signal()
}

// stopAuthWorkers ends the workers once the loops are gone; checks still
// waiting are dropped with their connections.
func (s *Server) stopAuthWorkers() {
	q := &s.authq
	q.mu.Lock()
	q.stopped = true
	q.jobs, q.head = nil, 0
	q.mu.Unlock()
	q.cond.Broadcast()
}

// authBacklog is how many checks wait for a worker.
func (s *Server) authBacklog() int {
	q := &s.authq
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs) - q.head
}

// maxDeferred bounds what a connection may send while its CONNECT is being
// authenticated: a PING and a few subscriptions are normal, a flood is not.
func (s *Server) maxDeferred() int {
	return int(s.opts.MaxPayload) + 16*int(s.opts.MaxControlLine)
}

// checkOffLoop authenticates creds (a leaf's when leaf is set) on an auth
// worker and calls done with the outcome on c's loop; until then c is
// authenticating and its input waits. done is not called once c has
// closed.
//
// The worker checks against the authenticator in force when the check was
// queued. A reload that replaces it meanwhile re-checks only connections
// already bound to an account, which c is not yet: so when the outcome
// comes back under another authenticator, the check is made again against
// the new one rather than let the old rules admit c. The comparison runs
// on c's loop, which a reload pauses while it swaps, so either the reload
// sees c bound or c sees the new authenticator.
func (c *client) checkOffLoop(creds *auth.ConnectCreds, leaf bool, done func(*auth.Identity, error)) {
	authn, nonce := c.srv.auth, c.nonce
	c.authenticating = true
	c.authStarted.Store(false)
	c.srv.authWork(func() {
		if c.closed.Load() {
			// Timed out, or gone, while waiting: spare the worker.
			return
		}
		c.authStarted.Store(true)
		var id *auth.Identity
		var err error
		if leaf {
			id, err = authn.AuthenticateLeaf(creds, nonce)
		} else {
			id, err = authn.Authenticate(creds, nonce)
		}
		c.onLoop(func() {
			if c.srv.auth != authn {
				c.checkOffLoop(creds, leaf, done)
				return
			}
			c.authenticating = false
			done(id, err)
		})
	})
}
