package loop

import "runtime"

// Authentication that costs more than an event loop should spend on one
// connection (signatures, bcrypt; see auth.Authenticator.Costly) runs on a
// small pool of goroutines. A connection storm then queues there instead
// of stalling every connection of the loops.

// authQueue is how many checks may wait for a worker before a loop that
// submits one blocks: a natural brake on a storm.
const authQueue = 4096

// startAuthWorkers starts one worker per core.
func (s *Server) startAuthWorkers() {
	s.authq = make(chan func(), authQueue)
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		go func() {
			for f := range s.authq {
				f()
			}
		}()
	}
}

// authWork queues f for an auth worker.
func (s *Server) authWork(f func()) { s.authq <- f }

// maxDeferred bounds what a connection may send while its CONNECT is being
// authenticated: a PING and a few subscriptions are normal, a flood is not.
func (s *Server) maxDeferred() int {
	return int(s.opts.MaxPayload) + 16*int(s.opts.MaxControlLine)
}
