package sublist

import "strings"

// The token tree. Every method here assumes the caller holds the Sublist's
// tree lock: the write lock to change anything, at least the read lock to
// look.

// indexAt is the size at which a set or a node's queue list starts keeping
// a map index. Below it a linear scan is as fast as hashing, and most nodes
// hold one or two subscriptions, so they never pay for a map.
const indexAt = 8

// set is an ordered set of values. The slice makes building a Result a copy
// rather than a map walk; the index, built only once the set is large, keeps
// removal O(1). Removal moves the last value into the hole, so order is
// insertion order only until the first removal.
type set[T comparable] struct {
	list  []T
	index map[T]int32
}

func (s *set[T]) find(v T) int {
	if s.index != nil {
		if i, ok := s.index[v]; ok {
			return int(i)
		}
		return -1
	}
	for i, w := range s.list {
		if w == v {
			return i
		}
	}
	return -1
}

// add inserts v and reports whether it was absent.
func (s *set[T]) add(v T) bool {
	if s.find(v) >= 0 {
		return false
	}
	s.list = append(s.list, v)
	switch {
	case s.index != nil:
		s.index[v] = int32(len(s.list) - 1)
	case len(s.list) > indexAt:
		s.index = make(map[T]int32, len(s.list))
		for i, w := range s.list {
			s.index[w] = int32(i)
		}
	}
	return true
}

// remove deletes v and reports whether it was present.
func (s *set[T]) remove(v T) bool {
	i := s.find(v)
	if i < 0 {
		return false
	}
	last := len(s.list) - 1
	if i != last {
		moved := s.list[last]
		s.list[i] = moved
		if s.index != nil {
			s.index[moved] = int32(i)
		}
	}
	var zero T
	s.list[last] = zero // Let the value be collected.
	s.list = s.list[:last]
	if s.index != nil {
		delete(s.index, v)
	}
	if len(s.list) == 0 {
		// An emptied node may live on as a path to deeper ones; give the
		// memory back.
		s.list, s.index = nil, nil
	}
	return true
}

// queue is one queue group's members on one node.
type queue[T comparable] struct {
	name    string
	members set[T]
}

// node is one token position of one or more subscribed subjects.
type node[T comparable] struct {
	next    *level[T]
	subject string // the subject ending at this token, for Range
	plain   set[T]
	queues  []*queue[T]
	qindex  map[string]int32 // built once len(queues) > indexAt
}

// level holds the children of a node (or of the root), one per token.
type level[T comparable] struct {
	literal map[string]*node[T]
	star    *node[T] // the "*" token
	full    *node[T] // the ">" token
}

func (n *node[T]) findQueue(name string) int {
	if n.qindex != nil {
		if i, ok := n.qindex[name]; ok {
			return int(i)
		}
		return -1
	}
	for i, q := range n.queues {
		if q.name == name {
			return i
		}
	}
	return -1
}

func (n *node[T]) addQueue(name string, v T) bool {
	if i := n.findQueue(name); i >= 0 {
		return n.queues[i].members.add(v)
	}
	q := &queue[T]{name: name}
	q.members.add(v)
	n.queues = append(n.queues, q)
	switch {
	case n.qindex != nil:
		n.qindex[name] = int32(len(n.queues) - 1)
	case len(n.queues) > indexAt:
		n.qindex = make(map[string]int32, len(n.queues))
		for i, q := range n.queues {
			n.qindex[q.name] = int32(i)
		}
	}
	return true
}

func (n *node[T]) removeQueue(name string, v T) bool {
	i := n.findQueue(name)
	if i < 0 || !n.queues[i].members.remove(v) {
		return false
	}
	if len(n.queues[i].members.list) > 0 {
		return true
	}
	// The group is empty: drop it, moving the last group into its place.
	last := len(n.queues) - 1
	if i != last {
		n.queues[i] = n.queues[last]
		if n.qindex != nil {
			n.qindex[n.queues[i].name] = int32(i)
		}
	}
	n.queues[last] = nil
	n.queues = n.queues[:last]
	if n.qindex != nil {
		delete(n.qindex, name)
	}
	if len(n.queues) == 0 {
		n.queues, n.qindex = nil, nil
	}
	return true
}

// empty reports whether the node holds nothing and leads nowhere, so that
// it can be pruned.
func (n *node[T]) empty() bool {
	return len(n.plain.list) == 0 && len(n.queues) == 0 && (n.next == nil || n.next.empty())
}

func (l *level[T]) empty() bool {
	return len(l.literal) == 0 && l.star == nil && l.full == nil
}

// child returns the node for token tok, or nil.
func (l *level[T]) child(tok string) *node[T] {
	switch tok {
	case starTok:
		return l.star
	case fullTok:
		return l.full
	}
	return l.literal[tok]
}

// makeChild returns the node for token tok, creating it with the given
// subject (the subscribed subject up to and including tok) if needed.
func (l *level[T]) makeChild(tok, subject string) *node[T] {
	if n := l.child(tok); n != nil {
		return n
	}
	n := &node[T]{subject: subject}
	switch tok {
	case starTok:
		l.star = n
	case fullTok:
		l.full = n
	default:
		if l.literal == nil {
			l.literal = make(map[string]*node[T])
		}
		l.literal[tok] = n
	}
	return n
}

func (l *level[T]) drop(tok string) {
	switch tok {
	case starTok:
		l.star = nil
	case fullTok:
		l.full = nil
	default:
		delete(l.literal, tok)
		if len(l.literal) == 0 {
			l.literal = nil
		}
	}
}

// makePath returns the node of a valid subject, creating missing nodes.
// Node subjects and map keys are substrings of subject, so the tree keeps
// one string per subscribed subject rather than one per token.
func (l *level[T]) makePath(subject string) *node[T] {
	end := 0
	for {
		rest := subject[end:]
		i := strings.IndexByte(rest, sep)
		if i < 0 {
			return l.makeChild(rest, subject)
		}
		end += i
		n := l.makeChild(rest[:i], subject[:end])
		end++
		if n.next == nil {
			n.next = &level[T]{}
		}
		l = n.next
	}
}

// step records one node of a path, so that removal can prune upwards.
type step[T comparable] struct {
	in  *level[T]
	n   *node[T]
	tok string
}

// findPath appends the steps of subject's path to path and returns it, or
// returns nil if the subject has no node.
func (l *level[T]) findPath(subject string, path []step[T]) []step[T] {
	for {
		tok, rest, more := strings.Cut(subject, ".")
		n := l.child(tok)
		if n == nil {
			return nil
		}
		path = append(path, step[T]{in: l, n: n, tok: tok})
		if !more {
			return path
		}
		if l = n.next; l == nil {
			return nil
		}
		subject = rest
	}
}

// prune removes the empty nodes at the end of path, deepest first.
func prune[T comparable](path []step[T]) {
	for i := len(path) - 1; i >= 0; i-- {
		st := path[i]
		if !st.n.empty() {
			return
		}
		st.in.drop(st.tok)
		if i > 0 && st.in.empty() {
			path[i-1].n.next = nil
		}
	}
}

// collect appends to out every node whose subscriptions match the published
// subject toks, taking each token literally. A literal child is found by the
// token's bytes; a token "*" or ">" never finds one, because those tokens
// are stored as wildcards, which gives nats-server's rule that PUB foo.*
// reaches SUB foo.* and SUB foo.> but not SUB foo.bar.
func (l *level[T]) collect(toks [][]byte, out []*node[T]) []*node[T] {
	for i, tok := range toks {
		last := i == len(toks)-1
		if l.full != nil {
			out = append(out, l.full)
		}
		if l.star != nil {
			if last {
				out = append(out, l.star)
			} else if l.star.next != nil {
				out = l.star.next.collect(toks[i+1:], out)
			}
		}
		n := l.literal[string(tok)]
		if n == nil {
			return out
		}
		if last {
			return append(out, n)
		}
		if l = n.next; l == nil {
			return out
		}
	}
	return out
}

// walk calls fn for every subscription at or below l until fn returns false.
func (l *level[T]) walk(fn func(subject, queue string, v T) bool) bool {
	for _, n := range l.literal {
		if !n.walk(fn) {
			return false
		}
	}
	if l.star != nil && !l.star.walk(fn) {
		return false
	}
	if l.full != nil && !l.full.walk(fn) {
		return false
	}
	return true
}

func (n *node[T]) walk(fn func(subject, queue string, v T) bool) bool {
	for _, v := range n.plain.list {
		if !fn(n.subject, "", v) {
			return false
		}
	}
	for _, q := range n.queues {
		for _, v := range q.members.list {
			if !fn(n.subject, q.name, v) {
				return false
			}
		}
	}
	return n.next == nil || n.next.walk(fn)
}

// groupIndexer finds a queue group by name among the groups of a Result
// being built. Groups are few, so it scans; a build that meets many groups
// switches to a map to stay linear.
type groupIndexer struct {
	index map[string]int
}

func (g *groupIndexer) find(groups []string, name string) int {
	if g.index != nil {
		if i, ok := g.index[name]; ok {
			return i
		}
		return -1
	}
	for i, n := range groups {
		if n == name {
			return i
		}
	}
	return -1
}

// add records that name is groups[i].
func (g *groupIndexer) add(groups []string, name string, i int) {
	switch {
	case g.index != nil:
		g.index[name] = i
	case len(groups) > indexAt:
		g.index = make(map[string]int, 2*len(groups))
		for j, n := range groups {
			g.index[n] = j
		}
	}
}

// build makes the Result for the matched nodes, or returns nil when they
// hold nothing. Plain subscriptions come first, node by node; queue groups
// of the same name on different nodes are one group, because a message must
// reach one member of a group whichever subject each member subscribed
// with. Plain values and all members share one backing array, each slice
// capped at its own length, so a Result costs three allocations at most.
func build[T comparable](nodes []*node[T], r *Result[T]) bool {
	nplain, nqueues := 0, 0
	for _, n := range nodes {
		nplain += len(n.plain.list)
		nqueues += len(n.queues)
	}
	if nqueues == 0 {
		if nplain == 0 {
			return false
		}
		plain := make([]T, 0, nplain)
		for _, n := range nodes {
			plain = append(plain, n.plain.list...)
		}
		r.Plain = plain
		return true
	}

	// First pass: the groups in order of first appearance, and their sizes.
	var sizeBuf [maxStack]int
	var nameBuf [maxStack]string
	sizes, names := sizeBuf[:0], nameBuf[:0]
	var gi groupIndexer
	for _, n := range nodes {
		for _, q := range n.queues {
			i := gi.find(names, q.name)
			if i < 0 {
				names = append(names, q.name)
				sizes = append(sizes, 0)
				i = len(names) - 1
				gi.add(names, q.name, i)
			}
			sizes[i] += len(q.members.list)
		}
	}

	total := nplain
	for _, sz := range sizes {
		total += sz
	}
	buf := make([]T, total)
	groups := make([]Group[T], len(names))
	off := nplain
	for i, name := range names {
		groups[i] = Group[T]{Name: name, Members: buf[off : off : off+sizes[i]]}
		off += sizes[i]
	}

	// Second pass: copy the values in.
	plain := buf[:0:nplain]
	for _, n := range nodes {
		plain = append(plain, n.plain.list...)
		for _, q := range n.queues {
			g := &groups[gi.find(names, q.name)]
			g.Members = append(g.Members, q.members.list...)
		}
	}
	if nplain > 0 {
		r.Plain = plain
	}
	r.Groups = groups
	return true
}
