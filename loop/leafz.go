// What monitoring and tests see of the leaf links.

package loop

// NumLeafs is the number of established leaf links, both sides counted.
func (s *Server) NumLeafs() int {
	s.mu.Lock()
	accs := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accs = append(accs, a)
	}
	s.mu.Unlock()
	n := 0
	for _, a := range accs {
		n += a.countLeafs()
	}
	return n
}

// LeafLink describes one established leaf link, as nats-server's /leafz
// lists it: the counters and the interest the peer announced. It is for
// tests and monitoring; the hot path never builds one.
type LeafLink struct {
	CID     uint64
	Name    string // the peer's server name
	Account string // the local account the link is bound to
	Spoke   bool   // this server is the leaf on the link
	// Compression is the link's negotiated compression: "off", "not
	// supported", or the S2 level this side writes with.
	Compression string
	InMsgs      int64
	OutMsgs     int64
	// Subs is what the peer asked for: "subject" or "subject queue".
	Subs []string
}

// Leafz lists the established leaf links. The interest is read from the
// account's sublist, which is safe from any goroutine, rather than from the
// link's own map, which belongs to its loop.
func (s *Server) Leafz() []LeafLink {
	s.mu.Lock()
	accs := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accs = append(accs, a)
	}
	s.mu.Unlock()
	var out []LeafLink
	for _, a := range accs {
		a.mu.Lock()
		links := append([]*client(nil), a.leafs...)
		a.mu.Unlock()
		for _, c := range links {
			ll := LeafLink{
				CID: c.cid, Name: c.leaf.name, Account: a.name, Spoke: c.leaf.spoke, Compression: c.leaf.Compression(),
				InMsgs: c.inMsgs.Load(), OutMsgs: c.outMsgs.Load(),
			}
			a.sl.Range(func(subject, queue string, sub *subscription) bool {
				if sub.c == c {
					ll.Subs = append(ll.Subs, sub.sid)
				}
				return true
			})
			out = append(out, ll)
		}
	}
	return out
}
