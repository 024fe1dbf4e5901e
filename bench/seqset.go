package bench

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// seqSet records which sequence numbers (from 1) of one publisher have
// arrived. It is a bitmap in chunks that are allocated as the sequence grows,
// so a run by duration needs no size up front. Add may be called from many
// goroutines at once (the members of a queue group share one set); growth
// takes a lock, lookups do not.
type seqSet struct {
	mu     sync.Mutex
	chunks atomic.Pointer[[]*seqChunk]
}

const (
	chunkBits  = 1 << 15
	chunkWords = chunkBits / 64
)

type seqChunk [chunkWords]atomic.Uint64

func (s *seqSet) chunk(i int) *seqChunk {
	if p := s.chunks.Load(); p != nil && i < len(*p) {
		if c := (*p)[i]; c != nil {
			return c
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur []*seqChunk
	if p := s.chunks.Load(); p != nil {
		cur = *p
	}
	if i < len(cur) && cur[i] != nil {
		return cur[i]
	}
	// Copy on write: readers hold the old slice, whose chunks stay valid.
	size := len(cur)
	if i >= size {
		size = max(i+1, 2*size)
	}
	next := make([]*seqChunk, size)
	copy(next, cur)
	// Only chunk i is allocated: a stray huge sequence number costs a longer
	// directory, not memory for every chunk below it.
	next[i] = new(seqChunk)
	s.chunks.Store(&next)
	return next[i]
}

// add marks seq as seen and reports whether it was already seen.
func (s *seqSet) add(seq uint64) (dup bool) {
	n := seq - 1
	c := s.chunk(int(n / chunkBits))
	bit := n % chunkBits
	mask := uint64(1) << (bit % 64)
	return c[bit/64].Or(mask)&mask != 0
}

// missing returns how many of 1..upto were never seen, and the first of them
// (0 when none is missing).
func (s *seqSet) missing(upto uint64) (n, first uint64) {
	var cur []*seqChunk
	if p := s.chunks.Load(); p != nil {
		cur = *p
	}
	for base := uint64(0); base < upto; base += chunkBits {
		ci := int(base / chunkBits)
		span := min(upto-base, chunkBits)
		if ci >= len(cur) || cur[ci] == nil {
			if first == 0 {
				first = base + 1
			}
			n += span
			continue
		}
		c := cur[ci]
		for w := uint64(0); w*64 < span; w++ {
			word := c[w].Load()
			valid := min(span-w*64, 64)
			if valid < 64 {
				word |= ^uint64(0) << valid
			}
			if word == ^uint64(0) {
				continue
			}
			n += uint64(bits.OnesCount64(^word))
			if first == 0 {
				first = base + w*64 + uint64(bits.TrailingZeros64(^word)) + 1
			}
		}
	}
	return n, first
}
