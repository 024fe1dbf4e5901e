package parser

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// recorder is a Handler that deep-copies every op, since an Op's slices die
// when Op returns.
type recorder struct {
	p   *Parser
	ops []Op

	// clearOnConnect clears p.NeedConnect when CONNECT arrives, as the
	// connection does once authentication succeeds.
	clearOnConnect bool
	// failAt, when positive, makes the failAt-th op (counting from 1) return
	// errStop after being recorded.
	failAt int
}

var errStop = errors.New("handler says stop")

func (r *recorder) Op(op *Op) error {
	r.ops = append(r.ops, cloneOp(op))
	if r.clearOnConnect && op.Kind == Connect {
		r.p.NeedConnect = false
	}
	if r.failAt > 0 && len(r.ops) == r.failAt {
		return errStop
	}
	return nil
}

// withoutLines is ops with Arg cleared where it is only the line as
// received (all but CONNECT, INFO and -ERR), for comparing with tables that
// spell out the parsed fields only (TestLine checks Arg there).
func withoutLines(ops []Op) []Op {
	if ops == nil {
		return nil
	}
	out := make([]Op, len(ops))
	for i, op := range ops {
		if op.Kind != Connect && op.Kind != Info && op.Kind != Err {
			op.Arg = nil
		}
		out[i] = op
	}
	return out
}

// cloneBytes copies b, keeping nil and empty apart so that tests can check
// the "nil when absent" promises.
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func cloneOp(op *Op) Op {
	c := *op
	c.Subject = cloneBytes(op.Subject)
	c.Reply = cloneBytes(op.Reply)
	c.Queue = cloneBytes(op.Queue)
	c.SID = cloneBytes(op.SID)
	c.Arg = cloneBytes(op.Arg)
	c.Msg = cloneBytes(op.Msg)
	if op.Queues != nil {
		c.Queues = make([][]byte, len(op.Queues))
		for i, q := range op.Queues {
			c.Queues[i] = cloneBytes(q)
		}
	}
	return c
}

// counter is a Handler that only counts, so that any allocation measured is
// the parser's.
type counter struct{ n int }

func (c *counter) Op(*Op) error {
	c.n++
	return nil
}

// config is what a test sets on a Parser before feeding it.
type config struct {
	mode           Mode
	maxControlLine int
	maxPayload     int
	needConnect    bool
	clearOnConnect bool
	failAt         int
}

func (c config) parser() *Parser {
	return &Parser{
		Mode:           c.mode,
		MaxControlLine: c.maxControlLine,
		MaxPayload:     c.maxPayload,
		NeedConnect:    c.needConnect,
	}
}

// result is everything observable about one run.
type result struct {
	ops     []Op
	err     error
	pending int
}

// feed runs chunks through p in order, stopping at the first error. Each
// chunk is a private copy that is scribbled over as soon as Parse returns, so
// any reference the parser kept into it shows up as corrupted ops.
func feed(p *Parser, cfg config, chunks [][]byte) result {
	rec := &recorder{p: p, clearOnConnect: cfg.clearOnConnect, failAt: cfg.failAt}
	var err error
	for _, c := range chunks {
		buf := append([]byte(nil), c...)
		err = p.Parse(buf, rec)
		for i := range buf {
			buf[i] = '!'
		}
		if err != nil {
			break
		}
	}
	return result{ops: rec.ops, err: err, pending: p.Pending()}
}

// chunking is one way of cutting an input into reads.
type chunking struct {
	name   string
	chunks [][]byte
}

// chunkings returns the input whole, one byte per read, cut in two at every
// point, and cut in three at a sample of point pairs (all of them for short
// inputs).
func chunkings(in []byte) []chunking {
	n := len(in)
	cs := []chunking{{"whole", [][]byte{in}}}
	if n == 0 {
		return cs
	}
	bytewise := make([][]byte, n)
	for i := range in {
		bytewise[i] = in[i : i+1]
	}
	cs = append(cs, chunking{"bytewise", bytewise})
	for i := 1; i < n; i++ {
		cs = append(cs, chunking{fmt.Sprintf("split@%d", i), [][]byte{in[:i], in[i:]}})
	}
	// Keep the three-way cuts to roughly 400 per input.
	step := 1
	for (n/step)*(n/step)/2 > 400 {
		step++
	}
	for i := 1; i < n; i += step {
		for j := i + 1; j < n; j += step {
			cs = append(cs, chunking{fmt.Sprintf("split@%d,%d", i, j), [][]byte{in[:i], in[i:j], in[j:]}})
		}
	}
	return cs
}

// runAllChunkings feeds in through a fresh parser for every chunking and
// checks that each gives the same ops, error and pending count as the whole
// input, which it returns.
func runAllChunkings(t *testing.T, cfg config, in []byte) result {
	t.Helper()
	var want result
	for k, c := range chunkings(in) {
		p := cfg.parser()
		got := feed(p, cfg, c.chunks)
		p.Release()
		if p.Pending() != 0 {
			t.Fatalf("%s: Pending() = %d after Release", c.name, p.Pending())
		}
		if k == 0 {
			want = got
			continue
		}
		if !sameResult(got, want) {
			t.Fatalf("%s differs from whole input:\n got %s\nwant %s", c.name, describe(got), describe(want))
		}
	}
	return want
}

// sameResult compares two runs. Pending is only compared without an error,
// since after one the parser's state is undefined.
func sameResult(a, b result) bool {
	return errors.Is(a.err, b.err) && errors.Is(b.err, a.err) &&
		reflect.DeepEqual(a.ops, b.ops) && (a.err != nil || a.pending == b.pending)
}

func describe(r result) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "err=%v pending=%d ops=[", r.err, r.pending)
	for i := range r.ops {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(opString(&r.ops[i]))
	}
	sb.WriteString("]")
	return sb.String()
}

func opString(op *Op) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "{%v", op.Kind)
	field := func(name string, b []byte) {
		if b != nil {
			fmt.Fprintf(&sb, " %s=%q", name, b)
		}
	}
	field("Subject", op.Subject)
	field("Reply", op.Reply)
	field("Queue", op.Queue)
	field("SID", op.SID)
	field("Arg", op.Arg)
	field("Msg", op.Msg)
	if op.HdrLen != 0 {
		fmt.Fprintf(&sb, " HdrLen=%d", op.HdrLen)
	}
	if op.Max != 0 {
		fmt.Fprintf(&sb, " Max=%d", op.Max)
	}
	if op.Weight != 0 {
		fmt.Fprintf(&sb, " Weight=%d", op.Weight)
	}
	if op.Queues != nil {
		fmt.Fprintf(&sb, " Queues=%q", op.Queues)
	}
	sb.WriteString("}")
	return sb.String()
}

var kindNames = [...]string{
	Connect: "CONNECT", Info: "INFO", Pub: "PUB", HPub: "HPUB", Sub: "SUB",
	Unsub: "UNSUB", Ping: "PING", Pong: "PONG", OK: "+OK", Err: "-ERR",
	LSub: "LS+", LUnsub: "LS-", LMsg: "LMSG", HMsg: "HMSG",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// b turns a string into a non-nil byte slice, for expected op fields.
func b(s string) []byte { return append([]byte{}, s...) }

func qs(names ...string) [][]byte {
	q := make([][]byte, len(names))
	for i, n := range names {
		q[i] = b(n)
	}
	return q
}

// Expected-op constructors, to keep the tables readable.
func ping() Op               { return Op{Kind: Ping} }
func pong() Op               { return Op{Kind: Pong} }
func ok() Op                 { return Op{Kind: OK} }
func connect(arg string) Op  { return Op{Kind: Connect, Arg: b(arg)} }
func info(arg string) Op     { return Op{Kind: Info, Arg: b(arg)} }
func minusErr(arg string) Op { return Op{Kind: Err, Arg: b(arg)} }

func pub(subject, reply, msg string) Op {
	op := Op{Kind: Pub, Subject: b(subject), Msg: b(msg)}
	if reply != "" {
		op.Reply = b(reply)
	}
	return op
}

func hpub(subject, reply string, hdr int, msg string) Op {
	op := pub(subject, reply, msg)
	op.Kind, op.HdrLen = HPub, hdr
	return op
}

func sub(subject, queue, sid string) Op {
	op := Op{Kind: Sub, Subject: b(subject), SID: b(sid)}
	if queue != "" {
		op.Queue = b(queue)
	}
	return op
}

func unsub(sid string, maxMsgs int64) Op { return Op{Kind: Unsub, SID: b(sid), Max: maxMsgs} }

func lsub(subject, queue string, weight int32) Op {
	op := Op{Kind: LSub, Subject: b(subject), Weight: weight}
	if queue != "" {
		op.Queue = b(queue)
	}
	return op
}

func lunsub(subject, queue string) Op {
	op := Op{Kind: LUnsub, Subject: b(subject)}
	if queue != "" {
		op.Queue = b(queue)
	}
	return op
}

func lmsg(subject, reply string, queues [][]byte, msg string) Op {
	op := Op{Kind: LMsg, Subject: b(subject), Queues: queues, Msg: b(msg)}
	if reply != "" {
		op.Reply = b(reply)
	}
	return op
}

func hmsg(subject, reply string, queues [][]byte, hdr int, msg string) Op {
	op := lmsg(subject, reply, queues, msg)
	op.Kind, op.HdrLen = HMsg, hdr
	return op
}

// within reports whether the non-empty slice s lies inside buf's memory.
func within(s, buf []byte) bool {
	if len(s) == 0 || len(buf) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	hi := lo + uintptr(len(buf))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return lo <= at && at+uintptr(len(s)) <= hi
}
