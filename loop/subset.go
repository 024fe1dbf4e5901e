package loop

import "iter"

// subSet is a connection's subscriptions, by sid. Most connections hold one
// subscription or none (a device listening on its own subject), and a map
// for one entry costs some 200 bytes, so a lone subscription is kept
// inline; the map is made for the second. Only the connection's loop uses
// it.
type subSet struct {
	one *subscription
	m   map[string]*subscription
}

// get returns the subscription with this sid, or nil.
func (s *subSet) get(sid string) *subscription {
	if s.m != nil {
		return s.m[sid]
	}
	if s.one != nil && s.one.sid == sid {
		return s.one
	}
	return nil
}

// put adds sub, replacing any subscription with its sid.
func (s *subSet) put(sub *subscription) {
	if s.m == nil {
		if s.one == nil || s.one.sid == sub.sid {
			s.one = sub
			return
		}
		s.m = make(map[string]*subscription, 2)
		s.m[s.one.sid] = s.one
		s.one = nil
	}
	s.m[sub.sid] = sub
}

// del removes the subscription with this sid, if there is one.
func (s *subSet) del(sid string) {
	if s.m != nil {
		delete(s.m, sid)
		return
	}
	if s.one != nil && s.one.sid == sid {
		s.one = nil
	}
}

func (s *subSet) len() int {
	switch {
	case s.m != nil:
		return len(s.m)
	case s.one != nil:
		return 1
	}
	return 0
}

// all yields every subscription, in no particular order. The one yielded
// may be removed while the loop runs, as from a map being ranged over.
func (s *subSet) all() iter.Seq[*subscription] {
	return func(yield func(*subscription) bool) {
		if s.m == nil {
			if s.one != nil {
				yield(s.one)
			}
			return
		}
		for _, sub := range s.m {
			if !yield(sub) {
				return
			}
		}
	}
}
