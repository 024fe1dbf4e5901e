package parser

import (
	"math/bits"
	"sync"
)

// Scratch memory for ops split across reads comes from tiered pools of
// fixed-size chunks, one pool per power of two from 256 B to 16 MiB, rather
// than from github.com/valyala/bytebufferpool. That pool serves every size
// from one calibrated class: a 20-byte split control line may be handed a
// megabyte buffer, a split 1 MiB payload may be handed a small one that then
// grows by append (an allocation and a copy), and buffers larger than the
// calibrated maximum are dropped on Put, so big split payloads would allocate
// every time. Exact size classes make the steady state allocation free and
// predictable, whatever mix of sizes the connections send.
const (
	// minChunkShift makes the smallest chunk 256 B, which holds a typical
	// split control line, so a split PUB header needs one Get.
	minChunkShift = 8
	// maxChunkShift makes the largest pooled chunk 16 MiB. Larger needs only
	// arise with max_payload configured far above its 1 MiB default; those
	// chunks are allocated and left to the collector, so the pools never pin
	// huge buffers.
	maxChunkShift = 24
)

// chunk is one pooled scratch buffer. The pools hold *chunk so that Get and
// Put move a pointer and never box a slice header. A chunk's capacity is the
// size of its tier and never changes, which is how putChunk knows where it
// belongs.
type chunk struct {
	b []byte
}

var chunkPools [maxChunkShift - minChunkShift + 1]sync.Pool

// tierOf returns the index of the smallest tier holding n bytes, or -1 when n
// is larger than the largest tier.
func tierOf(n int) int {
	if n <= 1<<minChunkShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxChunkShift {
		return -1
	}
	return shift - minChunkShift
}

// getChunk returns an empty chunk with room for at least n bytes.
func getChunk(n int) *chunk {
	t := tierOf(n)
	if t < 0 {
		return &chunk{b: make([]byte, 0, n)}
	}
	if c, _ := chunkPools[t].Get().(*chunk); c != nil {
		return c
	}
	return &chunk{b: make([]byte, 0, 1<<(t+minChunkShift))}
}

// putChunk gives c back to its tier. Chunks whose capacity is not exactly a
// tier size did not come from a pool and are dropped, so a pool never holds a
// buffer smaller than its tier promises.
func putChunk(c *chunk) {
	n := cap(c.b)
	t := tierOf(n)
	if t < 0 || n != 1<<(t+minChunkShift) {
		return
	}
	c.b = c.b[:0]
	chunkPools[t].Put(c)
}

// frame is the per-call working memory of Parse: the Op handed to the
// Handler and the field list of LMSG and HMSG lines.
//
// It lives in a pool rather than in Parser because the Op escapes through
// the Handler interface, so it cannot sit on the stack, and embedding its
// 200 bytes in every Parser would more than quadruple the parser's size on a
// server holding 100,000 mostly idle connections. Parse takes a frame when it
// first emits an op and gives it back before returning, which costs about
// 15 ns per call and no allocation.
type frame struct {
	op Op
	// dirty says op may hold fields a PUB does not set, left by an op of
	// another kind: a PUB clears them only then (parseLine).
	dirty bool
	// fields holds the fields of the current LMSG or HMSG line; Op.Queues is
	// a window onto it, so its backing array is the reused queue slice.
	fields [][]byte
}

// maxPooledFields bounds the field list a pooled frame keeps. A peer can
// send a leaf message line listing thousands of queues; keeping that array
// would pin it in the pool long after the line is gone.
const maxPooledFields = 64

var framePool = sync.Pool{New: func() any { return new(frame) }}

func getFrame() *frame {
	return framePool.Get().(*frame)
}

// putFrame clears every slice that may point into the caller's buffer or a
// chunk before pooling f, because Parse promises to keep no reference to
// its input once it returns.
func putFrame(f *frame) {
	f.op = Op{}
	f.dirty = false
	if cap(f.fields) > maxPooledFields {
		f.fields = nil
	} else {
		clear(f.fields[:cap(f.fields)])
		f.fields = f.fields[:0]
	}
	framePool.Put(f)
}
