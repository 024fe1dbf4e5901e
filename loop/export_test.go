package loop

import (
	"context"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// LoopOfClient reports the index of the event loop that serves the
// connection with client id cid, or -1 when no loop has it. Each loop is
// asked on the loop itself, because a worker's client list belongs to it.
// Tests use it to make sure a publisher and a subscriber really sit on
// different loops.
func (s *Server) LoopOfClient(cid uint64) int {
	s.wmu.Lock()
	var ws []*worker
	for _, w := range s.wmap {
		ws = append(ws, w)
	}
	s.wmu.Unlock()
	for _, w := range ws {
		found := make(chan bool, 1)
		task := gnet.RunnableFunc(func(context.Context) error {
			ok := false
			for _, c := range w.clients {
				if c.cid == cid {
					ok = true
					break
				}
			}
			found <- ok
			return nil
		})
		if err := w.el.Execute(context.Background(), task); err != nil {
			continue
		}
		select {
		case ok := <-found:
			if ok {
				return w.id
			}
		case <-time.After(5 * time.Second):
			return -1
		}
	}
	return -1
}

// AuthBacklog is how many costly checks wait for an auth worker.
func (s *Server) AuthBacklog() int { return s.authBacklog() }

// StaleLeafSlots counts the links the account's leaf list still points to
// past its length: closed links its backing array would keep alive.
func (s *Server) StaleLeafSlots(account string) int {
	a := s.lookupAccount(account)
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.leafs[len(a.leafs):cap(a.leafs)] {
		if c != nil {
			n++
		}
	}
	return n
}
