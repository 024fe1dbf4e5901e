package parser

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Fuzz flags choose the parser configuration from one byte, so the fuzzer
// explores small limits and the CONNECT gate as well as the defaults.
const (
	fuzzLeaf        = 1 << iota // Mode Leaf
	fuzzSmallLine               // MaxControlLine 16
	fuzzSmallMsg                // MaxPayload 32
	fuzzNeedConnect             // NeedConnect, cleared by CONNECT
	fuzzFailAt3                 // the handler fails on the third op
)

func fuzzConfig(flags uint8) config {
	var cfg config
	if flags&fuzzLeaf != 0 {
		cfg.mode = Leaf
	}
	if flags&fuzzSmallLine != 0 {
		cfg.maxControlLine = 16
	}
	if flags&fuzzSmallMsg != 0 {
		cfg.maxPayload = 32
	}
	if flags&fuzzNeedConnect != 0 {
		cfg.needConnect, cfg.clearOnConnect = true, true
	}
	if flags&fuzzFailAt3 != 0 {
		cfg.failAt = 3
	}
	return cfg
}

func flagsOf(cfg config) uint8 {
	var f uint8
	if cfg.mode == Leaf {
		f |= fuzzLeaf
	}
	if cfg.maxControlLine != 0 {
		f |= fuzzSmallLine
	}
	if cfg.maxPayload > 0 {
		f |= fuzzSmallMsg
	}
	if cfg.needConnect {
		f |= fuzzNeedConnect
	}
	return f
}

// randomChunks cuts data at random points, favouring small pieces so that
// op names, line ends and payload terminators get split often.
func randomChunks(data []byte, rng *rand.Rand) [][]byte {
	var chunks [][]byte
	for len(data) > 0 {
		n := 1 + rng.IntN(min(len(data), 1+rng.IntN(16)))
		chunks = append(chunks, data[:n])
		data = data[n:]
	}
	return chunks
}

// warmUp leaves p at an op boundary after exercising its scratch memory,
// the frame pool and the queue list, so that a reused parser can be compared
// with a fresh one.
func warmUp(t *testing.T, p *Parser, cfg config) {
	t.Helper()
	in := "CONNECT {}\r\nPING\r\nPUB w r 2\r\nhi\r\n"
	if cfg.mode == Leaf {
		in += "LMSG w + r a b c 1\r\nx\r\nLS+ w q 5\r\n"
	}
	var chunks [][]byte
	for i := 0; i < len(in); i += 3 {
		chunks = append(chunks, []byte(in[i:min(i+3, len(in))]))
	}
	warm := config{mode: cfg.mode, clearOnConnect: true}
	p.NeedConnect = true
	p.MaxControlLine, p.MaxPayload = 0, 0
	if got := feed(p, warm, chunks); got.err != nil || got.pending != 0 {
		t.Fatalf("warm-up: %s", describe(got))
	}
	p.NeedConnect = cfg.needConnect
	p.MaxControlLine, p.MaxPayload = cfg.maxControlLine, cfg.maxPayload
}

// FuzzParse checks the parser against itself: the input parsed whole, cut at
// random points, by a parser reused after other traffic, and by a parser
// reused after Release must all give the same ops and the same error.
func FuzzParse(f *testing.F) {
	for _, cases := range [][]parseCase{clientCases, leafCases} {
		for _, tc := range cases {
			f.Add([]byte(tc.in), flagsOf(tc.cfg), uint64(len(tc.in)))
		}
	}
	f.Add([]byte("CONNECT {}\r\nPING\r\nSUB foo.*  1\r\nPUB foo.bar 5\r\nhello\r\nHPUB foo.hdr 12 14\r\nNATS/1.0\r\n\r\nhd\r\n"), uint8(fuzzNeedConnect), uint64(1))
	f.Add([]byte("LS+ foo q 2\r\nLMSG foo + r q 2\r\nhi\r\nHMSG foo | q 12 14\r\nNATS/1.0\r\n\r\nhi\r\nLS- foo q\r\n"), uint8(fuzzLeaf), uint64(2))

	f.Fuzz(func(t *testing.T, data []byte, flags uint8, seed uint64) {
		cfg := fuzzConfig(flags)

		whole := feed(cfg.parser(), cfg, [][]byte{data})
		checkInvariants(t, cfg, data, whole)
		if ref := reference(cfg, data); !sameOps(whole, ref) {
			t.Fatalf("parser differs from the reference:\n got %s\nwant %s", describe(whole), describe(ref))
		}

		rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
		chunked := feed(cfg.parser(), cfg, randomChunks(data, rng))
		if !sameResult(chunked, whole) {
			t.Fatalf("chunked differs from whole:\n got %s\nwant %s", describe(chunked), describe(whole))
		}

		reused := cfg.parser()
		warmUp(t, reused, cfg)
		again := feed(reused, cfg, randomChunks(data, rng))
		if !sameResult(again, whole) {
			t.Fatalf("reused parser differs from fresh:\n got %s\nwant %s", describe(again), describe(whole))
		}

		// Whatever state the last run left, Release must make the parser
		// as good as new.
		reused.Release()
		reused.NeedConnect = cfg.needConnect
		if reused.Pending() != 0 {
			t.Fatalf("Pending() = %d after Release", reused.Pending())
		}
		released := feed(reused, cfg, [][]byte{data})
		if !sameResult(released, whole) {
			t.Fatalf("released parser differs from fresh:\n got %s\nwant %s", describe(released), describe(whole))
		}
		reused.Release()
	})
}

// checkInvariants checks what must hold of any run, whatever the input.
func checkInvariants(t *testing.T, cfg config, data []byte, r result) {
	t.Helper()
	if r.err != nil && !errors.Is(r.err, errStop) && !isSentinel(r.err) {
		t.Fatalf("error %v is not one of the package's", r.err)
	}
	if r.err == nil && r.pending > len(data) {
		t.Fatalf("holding %d bytes of a %d-byte input", r.pending, len(data))
	}
	for i := range r.ops {
		op := &r.ops[i]
		switch op.Kind {
		case Pub, HPub, LMsg, HMsg:
			if op.Msg == nil || op.HdrLen < 0 || op.HdrLen > len(op.Msg) || op.Subject == nil {
				t.Fatalf("bad message op %s", opString(op))
			}
			if lim := cfg.maxPayload; lim > 0 && len(op.Msg) > lim {
				t.Fatalf("%d-byte message over the %d-byte limit", len(op.Msg), lim)
			}
		}
		switch op.Kind {
		case LSub, LUnsub, LMsg, HMsg:
			if cfg.mode != Leaf {
				t.Fatalf("leaf op %s on a client parser", op.Kind)
			}
		}
		if op.Kind == LSub && op.Queue != nil && op.Weight < 1 {
			t.Fatalf("queue weight %d", op.Weight)
		}
		if cfg.mode == Leaf && (op.Kind == Sub || op.Kind == Unsub) {
			t.Fatalf("%s on a leaf parser", op.Kind)
		}
		if op.Kind == Sub && op.SID == nil {
			t.Fatalf("SUB without sid")
		}
		if op.Queues != nil && len(op.Queues) == 0 {
			t.Fatalf("empty non-nil Queues")
		}
	}
}

// sameOps compares ops and error, not Pending, which the reference does not
// model. The reference builds empty slices from strings, so emptiness is
// compared rather than nil-ness for the fields whose nil-ness it does not
// promise.
func sameOps(a, b result) bool {
	if !errors.Is(a.err, b.err) || !errors.Is(b.err, a.err) || len(a.ops) != len(b.ops) {
		return false
	}
	for i := range a.ops {
		x, y := a.ops[i], b.ops[i]
		if x.Arg != nil && len(x.Arg) == 0 && y.Arg != nil {
			x.Arg = y.Arg
		}
		if x.Msg != nil && len(x.Msg) == 0 && y.Msg != nil {
			x.Msg = y.Msg
		}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrUnknownOp, ErrTerminator, ErrControlLine, ErrPayload, ErrArgs, ErrNotConnected} {
		if err == s {
			return true
		}
	}
	return false
}

// reference is a second, deliberately naive reading of the protocol rules,
// written from PROTOCOL.md without the state machine: it sees the whole
// input at once and works on strings. The fuzzer compares the parser with
// it, which catches mistakes that whole and chunked runs would share.
func reference(cfg config, data []byte) result {
	in := string(data)
	limit := cfg.maxControlLine
	if limit == 0 {
		limit = DefaultMaxControlLine
	}
	maxMsg := cfg.maxPayload
	if maxMsg == 0 {
		maxMsg = DefaultMaxPayload
	}
	needConnect := cfg.needConnect
	var r result
	emit := func(op Op) bool {
		r.ops = append(r.ops, op)
		if op.Kind == Connect && cfg.clearOnConnect {
			needConnect = false
		}
		if cfg.failAt > 0 && len(r.ops) == cfg.failAt {
			r.err = errStop
			return false
		}
		return true
	}
	type spelling struct {
		name string
		kind Kind
		sep  bool // a space or tab must follow
		leaf bool // only on leaf links
	}
	spellings := []spelling{
		{"CONNECT", Connect, false, false}, {"INFO", Info, false, false},
		{"PUB", Pub, true, false}, {"HPUB", HPub, true, false},
		{"SUB", Sub, true, false}, {"UNSUB", Unsub, true, false},
		{"PING", Ping, false, false}, {"PONG", Pong, false, false},
		{"+OK", OK, false, false}, {"-ERR", Err, true, false},
		{"LS+", LSub, true, true}, {"LS-", LUnsub, true, true},
		{"LMSG", LMsg, true, true}, {"HMSG", HMsg, true, true},
	}
	fields := func(s string) []string {
		return strings.FieldsFunc(s, func(c rune) bool { return c == ' ' || c == '\t' })
	}
	size := func(s string) int {
		if len(s) < 1 || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
			return -1
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	for in != "" {
		if needConnect && in[0] != 'C' && in[0] != 'c' {
			r.err = ErrNotConnected
			return r
		}
		// Find the op whose name the input starts with, or that the input
		// is still a prefix of.
		var sp *spelling
		incomplete := false
		for i := range spellings {
			s := &spellings[i]
			if s.leaf && cfg.mode != Leaf {
				continue
			}
			n := min(len(s.name), len(in))
			if !strings.EqualFold(in[:n], s.name[:n]) {
				continue
			}
			if n < len(s.name) {
				incomplete = true
				continue
			}
			sp = s
		}
		if sp == nil {
			if !incomplete {
				r.err = ErrUnknownOp
			}
			return r
		}
		in = in[len(sp.name):]
		kind := sp.kind
		if cfg.mode == Leaf && kind == Sub {
			kind = LSub
		}
		if cfg.mode == Leaf && kind == Unsub {
			kind = LUnsub
		}
		if kind == Ping || kind == Pong || kind == OK {
			lf := strings.IndexByte(in, '\n')
			if lf < 0 {
				return r
			}
			in = in[lf+1:]
			if !emit(Op{Kind: kind}) {
				return r
			}
			continue
		}
		if sp.sep {
			if in == "" {
				return r
			}
			if in[0] != ' ' && in[0] != '\t' {
				r.err = ErrUnknownOp
				return r
			}
		}
		in = strings.TrimLeft(in, " \t")
		if in == "" {
			return r
		}
		lf := strings.IndexByte(in, '\n')
		if lf < 0 {
			if len(strings.TrimSuffix(in, "\r")) > limit {
				r.err = ErrControlLine
			}
			return r
		}
		line := strings.TrimSuffix(in[:lf], "\r")
		in = in[lf+1:]
		if len(line) > limit {
			r.err = ErrControlLine
			return r
		}
		f := fields(line)
		op := Op{Kind: kind, Arg: []byte(line)}
		total, hdr := -1, 0
		bad := false
		switch kind {
		case Connect, Info, Err:
			op.Arg = []byte(line)
		case Sub, LSub, Unsub, LUnsub:
			counts := map[Kind][2]int{Sub: {2, 3}, LSub: {1, 3}, Unsub: {1, 2}, LUnsub: {1, 2}}[kind]
			if len(f) != counts[0] && len(f) != counts[1] {
				bad = true
				break
			}
			switch {
			case kind == Sub:
				op.Subject, op.SID = []byte(f[0]), []byte(f[len(f)-1])
				if len(f) == 3 {
					op.Queue = []byte(f[1])
				}
			case kind == Unsub:
				op.SID = []byte(f[0])
				if len(f) == 2 && size(f[1]) > 0 {
					op.Max = int64(size(f[1]))
				}
			default:
				op.Subject = []byte(f[0])
				if len(f) > 1 {
					op.Queue = []byte(f[1])
				}
				if len(f) == 3 {
					op.Weight = int32(max(1, size(f[2])))
				}
			}
		case Pub, HPub:
			n := 2
			if kind == HPub {
				n = 3
			}
			if len(f) != n && len(f) != n+1 {
				bad = true
				break
			}
			op.Subject = []byte(f[0])
			if len(f) == n+1 {
				op.Reply = []byte(f[1])
			}
			total = size(f[len(f)-1])
			if kind == HPub {
				hdr = size(f[len(f)-2])
			}
		case LMsg, HMsg:
			n := 2
			if kind == HMsg {
				n = 3
			}
			if len(f) < n {
				bad = true
				break
			}
			op.Subject = []byte(f[0])
			switch {
			case len(f) == n+1:
				op.Reply = []byte(f[1])
			case len(f) > n+1 && f[1] == "+":
				op.Reply = []byte(f[2])
				for _, q := range f[3 : len(f)-n+1] {
					op.Queues = append(op.Queues, []byte(q))
				}
			case len(f) > n+1 && f[1] == "|":
				for _, q := range f[2 : len(f)-n+1] {
					op.Queues = append(op.Queues, []byte(q))
				}
			case len(f) > n+1:
				bad = true
			}
			total = size(f[len(f)-1])
			if kind == HMsg {
				hdr = size(f[len(f)-2])
			}
		}
		if bad {
			r.err = ErrArgs
			return r
		}
		if kind == Pub || kind == HPub || kind == LMsg || kind == HMsg {
			if total < 0 || hdr < 0 || hdr > total {
				r.err = ErrArgs
				return r
			}
			if maxMsg > 0 && total > maxMsg {
				r.err = ErrPayload
				return r
			}
			switch {
			case len(in) > total && in[total] != '\r',
				len(in) > total+1 && in[total+1] != '\n':
				r.err = ErrTerminator
				return r
			case len(in) < total+2:
				return r
			}
			op.Msg, op.HdrLen = []byte(in[:total]), hdr
			in = in[total+2:]
		}
		if !emit(op) {
			return r
		}
	}
	return r
}
