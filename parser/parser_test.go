package parser

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

type parseCase struct {
	name string
	cfg  config
	in   string
	want []Op
	err  error
	// pending is the number of bytes the parser must hold at the end.
	pending int
}

var (
	leaf  = config{mode: Leaf}
	small = config{maxControlLine: 8}
)

func ops(o ...Op) []Op { return o }

// clientCases covers every client op, the accepted spellings and the
// errors, each asserted field by field.
var clientCases = []parseCase{
	{name: "ping", in: "PING\r\n", want: ops(ping())},
	{name: "ping lower bare LF", in: "ping\n", want: ops(ping())},
	{name: "ping mixed case", in: "pInG\r\n", want: ops(ping())},
	{name: "ping trailing junk", in: "PINGXYZ\r\n", want: ops(ping())},
	{name: "ping spaces and CR", in: "PING  \r  \n", want: ops(ping())},
	{name: "ping unfinished", in: "PING  \r", want: nil},
	{name: "pong", in: "PONG\r\nPong\n", want: ops(pong(), pong())},
	{name: "ok", in: "+OK\r\n+ok\n", want: ops(ok(), ok())},
	{name: "connect", in: "CONNECT {\"verbose\":false}\r\n", want: ops(connect(`{"verbose":false}`))},
	{name: "connect tabs", in: "connect\t \t{}\r\n", want: ops(connect("{}"))},
	{name: "connect no separator", in: "CONNECT{}\r\n", want: ops(connect("{}"))},
	{name: "connect empty", in: "CONNECT\r\n", want: ops(connect(""))},
	{name: "connect empty spaces", in: "CONNECT   \r\n", want: ops(connect(""))},
	{name: "connect trailing space kept", in: "CONNECT {} \r\n", want: ops(connect("{} "))},
	{name: "connect unfinished", in: "CONNECT {\"a\":", want: nil, pending: 5},
	{name: "info", in: "INFO {\"server_id\":\"x\"} \r\n", want: ops(info(`{"server_id":"x"} `))},
	{name: "err", in: "-ERR 'Unknown Protocol Operation'\r\n", want: ops(minusErr("'Unknown Protocol Operation'"))},
	{name: "err tab", in: "-err\t'x'\n", want: ops(minusErr("'x'"))},

	{name: "pub", in: "PUB foo 5\r\nhello\r\n", want: ops(pub("foo", "", "hello"))},
	{name: "pub reply", in: "PUB foo bar 5\r\nhello\r\n", want: ops(pub("foo", "bar", "hello"))},
	{name: "pub whitespace runs", in: "pub\tfoo\t\tbar  5\r\nhello\r\n", want: ops(pub("foo", "bar", "hello"))},
	{name: "pub leading whitespace", in: "PUB  \t foo 5\r\nhello\r\n", want: ops(pub("foo", "", "hello"))},
	{name: "pub trailing whitespace", in: "PUB foo 5  \r\nhello\r\n", want: ops(pub("foo", "", "hello"))},
	{name: "pub bare LF", in: "PUB foo 5\nhello\r\n", want: ops(pub("foo", "", "hello"))},
	{name: "pub empty", in: "PUB foo 0\r\n\r\n", want: ops(pub("foo", "", ""))},
	{name: "pub payload with CRLF", in: "PUB foo 4\r\n\r\n\r\n\r\n", want: ops(pub("foo", "", "\r\n\r\n"))},
	{name: "pub binary payload", in: "PUB foo 3\r\n\x00\n\xff\r\n", want: ops(pub("foo", "", "\x00\n\xff"))},
	{name: "pub nine digits", in: "PUB foo 000000002\r\nhi\r\n", want: ops(pub("foo", "", "hi"))},
	{name: "pub mixed case", in: "Pub foo 1\r\nx\r\npUB foo 1\r\ny\r\n", want: ops(pub("foo", "", "x"), pub("foo", "", "y"))},
	{name: "pub unfinished payload", in: "PUB foo 5\r\nhel", want: nil, pending: 8},
	{name: "pub unfinished CR", in: "PUB foo 5\r\nhello\r", want: nil, pending: 10},
	{name: "hpub", in: "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", want: ops(hpub("foo", "", 12, "NATS/1.0\r\n\r\nhi"))},
	{name: "hpub reply", in: "HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", want: ops(hpub("foo", "r", 12, "NATS/1.0\r\n\r\nhi"))},
	{name: "hpub no header", in: "hpub foo 0 5\r\nhello\r\n", want: ops(hpub("foo", "", 0, "hello"))},
	{name: "hpub all header", in: "HPUB foo 5 5\r\nhello\r\n", want: ops(hpub("foo", "", 5, "hello"))},
	{name: "sub", in: "SUB foo 1\r\n", want: ops(sub("foo", "", "1"))},
	{name: "sub nats.go double space", in: "SUB foo.*  1\r\n", want: ops(sub("foo.*", "", "1"))},
	{name: "sub queue", in: "sub foo q 22\r\n", want: ops(sub("foo", "q", "22"))},
	{name: "unsub", in: "UNSUB 1\r\n", want: ops(unsub("1", 0))},
	{name: "unsub max", in: "unsub 1 5\r\n", want: ops(unsub("1", 5))},
	{name: "unsub max zero", in: "UNSUB 1 0\r\n", want: ops(unsub("1", 0))},
	{name: "unsub max malformed", in: "UNSUB 1 abc\r\n", want: ops(unsub("1", 0))},
	{name: "unsub max ten digits", in: "UNSUB 1 1234567890\r\n", want: ops(unsub("1", 0))},
	{name: "unsub max nine digits", in: "UNSUB 1 999999999\r\n", want: ops(unsub("1", 999999999))},
	{name: "op name split", in: "PU", want: nil},
	{name: "sequence", in: "SUB foo 1\nPUB foo 1\nx\r\nPING\n", want: ops(sub("foo", "", "1"), pub("foo", "", "x"), ping())},

	{name: "msg from client", in: "MSG foo 1 2\r\nhi\r\n", err: ErrUnknownOp},
	{name: "hmsg from client", in: "HMSG foo 1 2 2\r\nhi\r\n", err: ErrUnknownOp},
	{name: "ls+ from client", in: "LS+ foo\r\n", err: ErrUnknownOp},
	{name: "lmsg from client", in: "LMSG foo 2\r\nhi\r\n", err: ErrUnknownOp},
	{name: "rs+ from client", in: "RS+ foo\r\n", err: ErrUnknownOp},
	{name: "unknown", in: "xxx", err: ErrUnknownOp},
	{name: "blank line", in: "PING\r\n\r\nPING\r\n", want: ops(ping()), err: ErrUnknownOp},
	{name: "leading space", in: " PING\r\n", err: ErrUnknownOp},
	{name: "Px", in: "Px", err: ErrUnknownOp},
	{name: "PIx", in: "PIx", err: ErrUnknownOp},
	{name: "PINx", in: "PINx", err: ErrUnknownOp},
	{name: "PONx", in: "PONx", err: ErrUnknownOp},
	{name: "+x", in: "+x", err: ErrUnknownOp},
	{name: "+Ox", in: "+Ox", err: ErrUnknownOp},
	{name: "-ERRx", in: "-ERRx", err: ErrUnknownOp},
	{name: "-ERR no separator", in: "-ERR\r\n", err: ErrUnknownOp},
	{name: "CONNECx", in: "CONNECx", err: ErrUnknownOp},
	{name: "PUB no separator", in: "PUB\r\n", err: ErrUnknownOp},
	{name: "PUBX", in: "PUBX foo 1\r\n", err: ErrUnknownOp},
	{name: "HPx", in: "HPx", err: ErrUnknownOp},
	{name: "Hx", in: "Hx", err: ErrUnknownOp},
	{name: "SUB no separator", in: "SUB\r\n", err: ErrUnknownOp},
	{name: "UNSUBUNSUB", in: "UNSUBUNSUB 1\r\n", err: ErrUnknownOp},
	{name: "UNSUB_", in: "UNSUB_2\r\n", err: ErrUnknownOp},
	{name: "INFx", in: "INFx", err: ErrUnknownOp},
	{name: "vertical tab is not plus", in: "\vOK\r\n", err: ErrUnknownOp},
	{name: "CR is not minus", in: "\rERR x\r\n", err: ErrUnknownOp},
	{name: "unknown after ops", in: "PING\r\nPUB foo 1\r\nx\r\nZ", want: ops(ping(), pub("foo", "", "x")), err: ErrUnknownOp},

	{name: "pub one arg", in: "PUB foo\r\n", err: ErrArgs},
	{name: "pub no args", in: "PUB  \r\n", err: ErrArgs},
	{name: "pub size not number", in: "PUB foo bar       \r\n", err: ErrArgs},
	{name: "pub four args", in: "PUB foo bar baz 5\r\n", err: ErrArgs},
	{name: "pub negative size", in: "PUB foo -1\r\n", err: ErrArgs},
	{name: "pub plus size", in: "PUB foo +1\r\n", err: ErrArgs},
	{name: "pub ten digits", in: "PUB foo 0000000001\r\n", err: ErrArgs},
	{name: "pub size suffix", in: "PUB foo 12a\r\n", err: ErrArgs},
	{name: "hpub two args", in: "HPUB foo 5\r\n", err: ErrArgs},
	{name: "hpub five args", in: "HPUB a b c 1 2\r\n", err: ErrArgs},
	{name: "hpub header over total", in: "HPUB foo 6 5\r\n", err: ErrArgs},
	{name: "hpub bad header size", in: "HPUB foo x 5\r\n", err: ErrArgs},
	{name: "hpub bad total", in: "HPUB foo 1 x\r\n", err: ErrArgs},
	{name: "hpub args before payload limit", in: "HPUB foo 2000000 1\r\n", err: ErrArgs},
	{name: "sub one arg", in: "SUB foo\r\n", err: ErrArgs},
	{name: "sub four args", in: "SUB foo bar baz 22\r\n", err: ErrArgs},
	{name: "sub no args", in: "SUB  \r\n", err: ErrArgs},
	{name: "unsub no args", in: "UNSUB          \t       \r\n", err: ErrArgs},
	{name: "unsub three args", in: "UNSUB 1 2 3\r\n", err: ErrArgs},

	{name: "payload over default", in: "PUB foo 1048577\r\n", err: ErrPayload},
	{name: "payload at default", in: "PUB foo 1048576\r\n", pending: len("foo 1048576")},
	{name: "payload over limit", cfg: config{maxPayload: 10}, in: "PUB foo 11\r\n", err: ErrPayload},
	{name: "payload at limit", cfg: config{maxPayload: 10}, in: "PUB foo 10\r\n0123456789\r\n", want: ops(pub("foo", "", "0123456789"))},
	{name: "hpub payload over limit", cfg: config{maxPayload: 10}, in: "HPUB foo 1 11\r\n", err: ErrPayload},
	{name: "payload unlimited", cfg: config{maxPayload: -1}, in: "PUB foo 2000000\r\n", pending: len("foo 2000000")},

	{name: "terminator X", in: "PUB foo 3\r\nhelloX\r\n", err: ErrTerminator},
	{name: "terminator space", in: "PUB foo 2\r\nok \r\n", err: ErrTerminator},
	{name: "terminator CR space", in: "PUB foo 2\r\nok\r \n", err: ErrTerminator},
	{name: "terminator bare LF", in: "PUB foo 2\r\nok\n", err: ErrTerminator},
	{name: "terminator empty payload", in: "PUB foo 0\r\nX", err: ErrTerminator},
	{name: "terminator hpub", in: "HPUB foo 0 1\r\nxx\r\n", err: ErrTerminator},

	{name: "line at limit", cfg: small, in: "SUB abcd 123\r\n", want: ops(sub("abcd", "", "123"))},
	{name: "line over limit", cfg: small, in: "SUB abcde 123\r\n", err: ErrControlLine},
	{name: "line over limit bare LF", cfg: small, in: "SUB abcde 123\n", err: ErrControlLine},
	{name: "partial line at limit", cfg: small, in: "SUB abcde 12", pending: 8},
	{name: "partial line over limit", cfg: small, in: "SUB abcde 123", err: ErrControlLine},
	{name: "partial line CR not counted", cfg: small, in: "SUB abcd 123\r", pending: 9},
	{name: "CR inside line counted", cfg: small, in: "SUB abcd 123\rx\n", err: ErrControlLine},
	{name: "pub over limit", cfg: small, in: "PUB foo.bar.baz 2\r\nok\r\n", err: ErrControlLine},
	{name: "leading whitespace not counted", cfg: small, in: "SUB" + strings.Repeat(" ", 100) + "abcd 123\r\n", want: ops(sub("abcd", "", "123"))},
	{name: "op name not counted", cfg: small, in: "CONNECT 12345678\r\n", want: ops(connect("12345678"))},
	{name: "connect over limit", cfg: small, in: "CONNECT 123456789\r\n", err: ErrControlLine},
	{name: "err over limit", cfg: small, in: "-ERR 123456789", err: ErrControlLine},
	{name: "ping line unlimited", cfg: small, in: "PING" + strings.Repeat("x", 100) + "\r\n", want: ops(ping())},
	{name: "default limit", in: "CONNECT " + strings.Repeat("x", 4097) + "\r\n", err: ErrControlLine},
	{name: "default limit exact", in: "CONNECT " + strings.Repeat("x", 4096) + "\r\n", want: ops(connect(strings.Repeat("x", 4096)))},

	{name: "need connect", cfg: config{needConnect: true}, in: "PING\r\n", err: ErrNotConnected},
	{name: "need connect any byte", cfg: config{needConnect: true}, in: "\r\n", err: ErrNotConnected},
	{name: "need connect then ping", cfg: config{needConnect: true, clearOnConnect: true}, in: "CONNECT {}\r\nPING\r\n", want: ops(connect("{}"), ping())},
	{name: "need connect lower case", cfg: config{needConnect: true, clearOnConnect: true}, in: "connect {}\r\nping\r\n", want: ops(connect("{}"), ping())},
	{name: "need connect not cleared", cfg: config{needConnect: true}, in: "CONNECT {}\r\nPING\r\n", want: ops(connect("{}")), err: ErrNotConnected},
	{name: "need connect bad name", cfg: config{needConnect: true}, in: "COx", err: ErrUnknownOp},

	{name: "handler error", cfg: config{failAt: 2}, in: "PING\r\nPUB foo 1\r\nx\r\nPING\r\n", want: ops(ping(), pub("foo", "", "x")), err: errStop},
	{name: "handler error on sub", cfg: config{failAt: 1}, in: "SUB foo 1\r\nPING\r\n", want: ops(sub("foo", "", "1")), err: errStop},
	{name: "handler error on ping", cfg: config{failAt: 1}, in: "PING\r\nPING\r\n", want: ops(ping()), err: errStop},
}

var leafCases = []parseCase{
	{name: "ls+", cfg: leaf, in: "LS+ foo\r\n", want: ops(lsub("foo", "", 0))},
	{name: "ls+ queue", cfg: leaf, in: "ls+ foo.q grp 3\r\n", want: ops(lsub("foo.q", "grp", 3))},
	{name: "ls+ weight zero", cfg: leaf, in: "LS+ foo q 0\r\n", want: ops(lsub("foo", "q", 1))},
	{name: "ls+ weight word", cfg: leaf, in: "LS+ foo q abc\r\n", want: ops(lsub("foo", "q", 1))},
	{name: "ls+ weight max", cfg: leaf, in: "LS+ foo q 999999999\r\n", want: ops(lsub("foo", "q", 999999999))},
	{name: "ls+ weight huge", cfg: leaf, in: "LS+ foo q 1000000000\r\n", want: ops(lsub("foo", "q", 1))},
	{name: "ls-", cfg: leaf, in: "LS- foo\r\n", want: ops(lunsub("foo", ""))},
	{name: "ls- queue", cfg: leaf, in: "Ls- foo q\r\n", want: ops(lunsub("foo", "q"))},
	{name: "lmsg", cfg: leaf, in: "LMSG foo 2\r\nhi\r\n", want: ops(lmsg("foo", "", nil, "hi"))},
	{name: "lmsg reply", cfg: leaf, in: "LMSG baz reply.x 2\r\nhi\r\n", want: ops(lmsg("baz", "reply.x", nil, "hi"))},
	{name: "lmsg plus", cfg: leaf, in: "LMSG qq + r.2 grp 2\r\nyo\r\n", want: ops(lmsg("qq", "r.2", qs("grp"), "yo"))},
	{name: "lmsg plus queues", cfg: leaf, in: "lmsg qq + r q1 q2 q3 2\r\nyo\r\n", want: ops(lmsg("qq", "r", qs("q1", "q2", "q3"), "yo"))},
	{name: "lmsg plus no queue", cfg: leaf, in: "LMSG qq + r 2\r\nyo\r\n", want: ops(lmsg("qq", "r", nil, "yo"))},
	{name: "lmsg pipe", cfg: leaf, in: "LMSG qq | grp 2\r\nyo\r\n", want: ops(lmsg("qq", "", qs("grp"), "yo"))},
	{name: "lmsg pipe queues", cfg: leaf, in: "LMSG qq\t|\tq1  q2 0\r\n\r\n", want: ops(lmsg("qq", "", qs("q1", "q2"), ""))},
	{name: "lmsg marker as reply", cfg: leaf, in: "LMSG qq | 2\r\nyo\r\n", want: ops(lmsg("qq", "|", nil, "yo"))},
	{name: "lmsg many queues", cfg: leaf, in: "LMSG s | " + strings.Repeat("q ", 100) + "1\r\nx\r\n", want: ops(lmsg("s", "", qs(strings.Fields(strings.Repeat("q ", 100))...), "x"))},
	{name: "hmsg", cfg: leaf, in: "HMSG baz 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", want: ops(hmsg("baz", "", nil, 12, "NATS/1.0\r\n\r\nhi"))},
	{name: "hmsg reply", cfg: leaf, in: "HMSG baz r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", want: ops(hmsg("baz", "r", nil, 12, "NATS/1.0\r\n\r\nhi"))},
	{name: "hmsg plus", cfg: leaf, in: "HMSG qq + r.1 grp 12 14\r\nNATS/1.0\r\n\r\nyo\r\n", want: ops(hmsg("qq", "r.1", qs("grp"), 12, "NATS/1.0\r\n\r\nyo"))},
	{name: "hmsg plus no queue", cfg: leaf, in: "HMSG qq + r.1 12 14\r\nNATS/1.0\r\n\r\nyo\r\n", want: ops(hmsg("qq", "r.1", nil, 12, "NATS/1.0\r\n\r\nyo"))},
	{name: "hmsg pipe", cfg: leaf, in: "hmsg qq | g1 g2 12 14\r\nNATS/1.0\r\n\r\nyo\r\n", want: ops(hmsg("qq", "", qs("g1", "g2"), 12, "NATS/1.0\r\n\r\nyo"))},
	{name: "leaf sub is ls+", cfg: leaf, in: "SUB foo\r\nsub foo q 2\r\n", want: ops(lsub("foo", "", 0), lsub("foo", "q", 2))},
	{name: "leaf unsub is ls-", cfg: leaf, in: "UNSUB foo\r\nUNSUB foo q\r\n", want: ops(lunsub("foo", ""), lunsub("foo", "q"))},
	{name: "leaf pub", cfg: leaf, in: "PUB foo 2\r\nhi\r\n", want: ops(pub("foo", "", "hi"))},
	{name: "leaf hpub", cfg: leaf, in: "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n", want: ops(hpub("foo", "", 12, "NATS/1.0\r\n\r\n"))},
	{name: "leaf control", cfg: leaf, in: "PING\r\nPONG\r\n+OK\r\n-ERR 'Loop detected'\r\nINFO {}\r\n", want: ops(ping(), pong(), ok(), minusErr("'Loop detected'"), info("{}"))},

	{name: "leaf msg", cfg: leaf, in: "MSG foo 1 2\r\nhi\r\n", err: ErrUnknownOp},
	{name: "leaf rs+", cfg: leaf, in: "RS+ $G foo\r\n", err: ErrUnknownOp},
	{name: "leaf a+", cfg: leaf, in: "A+ foo\r\n", err: ErrUnknownOp},
	{name: "leaf LSx", cfg: leaf, in: "LSx", err: ErrUnknownOp},
	{name: "leaf Lx", cfg: leaf, in: "Lx", err: ErrUnknownOp},
	{name: "leaf LS+ no separator", cfg: leaf, in: "LS+x\r\n", err: ErrUnknownOp},
	{name: "leaf LMSx", cfg: leaf, in: "LMSx", err: ErrUnknownOp},
	{name: "leaf HMSx", cfg: leaf, in: "HMSx", err: ErrUnknownOp},

	{name: "ls+ two args", cfg: leaf, in: "LS+ foo q\r\n", err: ErrArgs},
	{name: "ls+ four args", cfg: leaf, in: "LS+ foo q 1 x\r\n", err: ErrArgs},
	{name: "ls+ no args", cfg: leaf, in: "LS+ \r\n", err: ErrArgs},
	{name: "ls- three args", cfg: leaf, in: "LS- a b c\r\n", err: ErrArgs},
	{name: "ls- no args", cfg: leaf, in: "LS- \r\n", err: ErrArgs},
	{name: "leaf sub client form", cfg: leaf, in: "SUB foo 1\r\n", err: ErrArgs},
	{name: "lmsg one arg", cfg: leaf, in: "LMSG foo\r\n", err: ErrArgs},
	{name: "lmsg no args", cfg: leaf, in: "LMSG \r\n", err: ErrArgs},
	{name: "lmsg bad marker", cfg: leaf, in: "LMSG foo x q 2\r\n", err: ErrArgs},
	{name: "lmsg long marker", cfg: leaf, in: "LMSG foo ++ r q 2\r\n", err: ErrArgs},
	{name: "lmsg bad size", cfg: leaf, in: "LMSG foo r abc\r\n", err: ErrArgs},
	{name: "lmsg bad size queues", cfg: leaf, in: "LMSG foo | q abc\r\n", err: ErrArgs},
	{name: "hmsg two args", cfg: leaf, in: "HMSG foo 2\r\n", err: ErrArgs},
	{name: "hmsg bad marker", cfg: leaf, in: "HMSG foo x q 1 2\r\n", err: ErrArgs},
	{name: "hmsg header over total", cfg: leaf, in: "HMSG foo 3 2\r\n", err: ErrArgs},
	{name: "hmsg bad header", cfg: leaf, in: "HMSG foo | q x 2\r\n", err: ErrArgs},
	{name: "lmsg payload", cfg: leaf, in: "LMSG foo 2000000\r\n", err: ErrPayload},
	{name: "hmsg payload", cfg: config{mode: Leaf, maxPayload: 4}, in: "HMSG foo + r q 0 5\r\n", err: ErrPayload},
	{name: "lmsg terminator", cfg: leaf, in: "LMSG foo 2\r\nhi!\r\n", err: ErrTerminator},
	{name: "leaf need connect", cfg: config{mode: Leaf, needConnect: true}, in: "LS+ foo\r\n", err: ErrNotConnected},
	{name: "leaf control line", cfg: config{mode: Leaf, maxControlLine: 15}, in: "LMSG foo | q1 q2 q3 2\r\n", err: ErrControlLine},
}

func runCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runAllChunkings(t, tc.cfg, []byte(tc.in))
			if !errors.Is(got.err, tc.err) || (got.err == nil) != (tc.err == nil) {
				t.Fatalf("error = %v, want %v", got.err, tc.err)
			}
			if !reflect.DeepEqual(withoutLines(got.ops), tc.want) {
				t.Fatalf("ops:\n got %s\nwant %s", describe(got), describe(result{ops: tc.want, err: tc.err, pending: tc.pending}))
			}
			if tc.err == nil && got.pending != tc.pending {
				t.Fatalf("Pending() = %d, want %d", got.pending, tc.pending)
			}
		})
	}
}

func TestClientOps(t *testing.T) { runCases(t, clientCases) }

func TestLeafOps(t *testing.T) { runCases(t, leafCases) }

// TestHandshake feeds the bytes nats.go v1.55.0 sent to nats-server v2.15.2
// in PROTOCOL.md section 2.1 (with the elided inbox names filled in).
func TestHandshake(t *testing.T) {
	const connectJSON = `{"verbose":false,"pedantic":false,"auth_token":"s3cr3t","tls_required":false,"name":"probe",` +
		`"lang":"go","version":"1.55.0","protocol":1,"echo":true,"headers":true,"no_responders":true}`
	const inbox = "_INBOX.5ozhQnYb0PbJ0ZfBQvHxMx"
	in := "CONNECT " + connectJSON + "\r\nPING\r\n" +
		"SUB foo.*  1\r\nSUB svc workers 2\r\nPUB foo.bar 5\r\nhello\r\n" +
		"HPUB foo.hdr 23 25\r\nNATS/1.0\r\nX-Test: 1\r\n\r\nhd\r\nPING\r\n" +
		"SUB " + inbox + ".*  3\r\nPUB svc " + inbox + ".UGv9fj7n 4\r\nping\r\n" +
		"PUB " + inbox + ".UGv9fj7n 4\r\npong\r\n" +
		"PUB nobody " + inbox + ".PfJWp2DE 1\r\nx\r\n"
	want := ops(
		connect(connectJSON), ping(),
		sub("foo.*", "", "1"), sub("svc", "workers", "2"), pub("foo.bar", "", "hello"),
		hpub("foo.hdr", "", 23, "NATS/1.0\r\nX-Test: 1\r\n\r\nhd"), ping(),
		sub(inbox+".*", "", "3"), pub("svc", inbox+".UGv9fj7n", "ping"),
		pub(inbox+".UGv9fj7n", "", "pong"),
		pub("nobody", inbox+".PfJWp2DE", "x"),
	)
	cfg := config{needConnect: true, clearOnConnect: true}
	got := runAllChunkings(t, cfg, []byte(in))
	if got.err != nil || !reflect.DeepEqual(withoutLines(got.ops), want) {
		t.Fatalf("got %s\nwant %s", describe(got), describe(result{ops: want}))
	}
}

// TestLeafHandshake feeds both directions of the leaf link sequences of
// PROTOCOL.md sections 4.2 and 4.8.
func TestLeafHandshake(t *testing.T) {
	const hubInfo = `{"server_id":"ND3R","server_name":"hub1","version":"2.15.2","proto":3,"go":"go1.26.8",` +
		`"host":"127.0.0.1","port":37422,"headers":true,"auth_required":true,"max_payload":1048576,` +
		`"ip":"127.0.0.1:37422","client_id":46,"nonce":"jr3TqSeOPx_JH8Q","compression":"s2_auto",` +
		`"api_lvl":5,"info_on_connect":true,"leafnode_urls":["127.0.0.1:37422"]} `
	const connectInfo = `{"server_id":"ND3R","client_id":47,"connect_info":true,"remote_account":"$G",` +
		`"import":{"allow":["foo.>","_INBOX.>"]},"export":{"allow":["bar.>","_INBOX.>"]}} `
	const leafConnect = `{"version":"2.15.2","user":"tok123","auth_token":"tok123","server_id":"NA7U","name":"leaf1",` +
		`"cluster":"leaf1","headers":true,"compress_mode":"not supported","remote_account":"$G","protocol":3}`

	tests := []struct {
		name string
		cfg  config
		in   string
		want []Op
	}{{
		name: "our leaf reads the hub",
		cfg:  leaf,
		in: "INFO " + hubInfo + "\r\nINFO " + connectInfo + "\r\n" +
			"LS+ $SYS.REQ.ACCOUNT.PING.STATZ\r\nLS+ $SYS.REQ.SERVER.PING.CONNZ\r\nLS+ $SYS.REQ.USER.INFO\r\n" +
			"LS+ $LDS.vvul9uTz3NeLKQMFGG4a68\r\nLS+ $SYS.REQ.ACCOUNT.PING.CONNZ\r\n" +
			"LS+ foo\r\nLS+ foo q1 1\r\nLS+ bar.>\r\nPING\r\n" +
			"LMSG baz reply.x 2\r\nhi\r\nLMSG qq | grp 2\r\nyo\r\nLMSG qq + r.2 grp 2\r\nyo\r\n" +
			"HMSG baz 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHMSG qq + r.1 grp 12 14\r\nNATS/1.0\r\n\r\nhi\r\n" +
			"HMSG qq | grp 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
		want: ops(
			info(hubInfo), info(connectInfo),
			lsub("$SYS.REQ.ACCOUNT.PING.STATZ", "", 0), lsub("$SYS.REQ.SERVER.PING.CONNZ", "", 0),
			lsub("$SYS.REQ.USER.INFO", "", 0), lsub("$LDS.vvul9uTz3NeLKQMFGG4a68", "", 0),
			lsub("$SYS.REQ.ACCOUNT.PING.CONNZ", "", 0),
			lsub("foo", "", 0), lsub("foo", "q1", 1), lsub("bar.>", "", 0), ping(),
			lmsg("baz", "reply.x", nil, "hi"), lmsg("qq", "", qs("grp"), "yo"), lmsg("qq", "r.2", qs("grp"), "yo"),
			hmsg("baz", "", nil, 12, "NATS/1.0\r\n\r\nhi"), hmsg("qq", "r.1", qs("grp"), 12, "NATS/1.0\r\n\r\nhi"),
			hmsg("qq", "", qs("grp"), 12, "NATS/1.0\r\n\r\nhi"),
		),
	}, {
		name: "our hub reads a nats-server leaf",
		cfg:  config{mode: Leaf, needConnect: true, clearOnConnect: true},
		in: "CONNECT " + leafConnect + "\r\n" +
			"LS+ $LDS.niiKHEmwQW69JccpgidXM9\r\nPONG\r\nPING\r\n" +
			"LS+ foo.a\r\nLS+ foo.q grp 1\r\nLS+ foo.q grp 2\r\n" +
			"LMSG bar.x r.1 2\r\nhi\r\nLMSG bar.q | grp 2\r\nqq\r\n" +
			"LS- foo.q grp\r\nLS- foo.a\r\n",
		want: ops(
			connect(leafConnect),
			lsub("$LDS.niiKHEmwQW69JccpgidXM9", "", 0), pong(), ping(),
			lsub("foo.a", "", 0), lsub("foo.q", "grp", 1), lsub("foo.q", "grp", 2),
			lmsg("bar.x", "r.1", nil, "hi"), lmsg("bar.q", "", qs("grp"), "qq"),
			lunsub("foo.q", "grp"), lunsub("foo.a", ""),
		),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runAllChunkings(t, tc.cfg, []byte(tc.in))
			if got.err != nil || !reflect.DeepEqual(withoutLines(got.ops), tc.want) {
				t.Fatalf("got %s\nwant %s", describe(got), describe(result{ops: tc.want}))
			}
		})
	}
}

// checker is a Handler that runs a function on each op.
type checker func(op *Op) error

func (c checker) Op(op *Op) error { return c(op) }

// TestZeroCopy checks that ops complete in the buffer are sliced from it.
func TestZeroCopy(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		in   string
		ops  int
	}{
		{Client, "PUB foo bar 5\r\nhello\r\nHPUB h 2 3\r\nabc\r\nSUB s q 1\r\nUNSUB 1\r\nCONNECT {}\r\n", 5},
		{Leaf, "LMSG foo + r q1 q2 2\r\nhi\r\nHMSG foo | q 1 2\r\nhi\r\nLS+ s q 2\r\nLS- s q\r\n", 4},
	} {
		buf := []byte(tc.in)
		p := Parser{Mode: tc.mode}
		n := 0
		err := p.Parse(buf, checker(func(op *Op) error {
			n++
			all := append([][]byte{op.Subject, op.Reply, op.Queue, op.SID, op.Arg, op.Msg}, op.Queues...)
			for _, s := range all {
				if len(s) > 0 && !within(s, buf) {
					t.Errorf("%s: %q is not in the input buffer", op.Kind, s)
				}
			}
			return nil
		}))
		if err != nil || n != tc.ops || p.Pending() != 0 {
			t.Fatalf("Parse(%q): %d ops, Pending() = %d, %v", tc.in, n, p.Pending(), err)
		}
	}
}

// TestSplitPayloadOwned checks that a message finished in a later read is
// delivered from scratch memory, not from either input buffer.
func TestSplitPayloadOwned(t *testing.T) {
	p := Parser{Mode: Leaf}
	first := []byte("LMSG foo + r q1 q2 5\r\nhel")
	second := []byte("lo\r\nPING\r\n")
	if err := p.Parse(first, checker(func(*Op) error { t.Fatal("op from a partial message"); return nil })); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Pending(), len("foo + r q1 q2 5")+3; got != want {
		t.Fatalf("Pending() = %d, want %d", got, want)
	}
	var kinds []Kind
	err := p.Parse(second, checker(func(op *Op) error {
		kinds = append(kinds, op.Kind)
		if op.Kind != LMsg {
			return nil
		}
		if string(op.Msg) != "hello" || string(op.Subject) != "foo" || string(op.Reply) != "r" || len(op.Queues) != 2 {
			t.Errorf("op = %s", opString(op))
		}
		for _, s := range append([][]byte{op.Subject, op.Reply, op.Msg}, op.Queues...) {
			if within(s, first) || within(s, second) {
				t.Errorf("%q points into an input buffer", s)
			}
		}
		return nil
	}))
	if err != nil || !reflect.DeepEqual(kinds, []Kind{LMsg, Ping}) {
		t.Fatalf("kinds %v, err %v", kinds, err)
	}
	if p.Pending() != 0 || p.sc != nil {
		t.Fatalf("scratch not released: Pending() = %d", p.Pending())
	}
}

// TestQueuesCapped checks that a handler appending to Op.Queues cannot
// overwrite the parser's own fields.
func TestQueuesCapped(t *testing.T) {
	p := Parser{Mode: Leaf}
	err := p.Parse([]byte("LMSG foo | q1 q2 2\r\nhi\r\n"), checker(func(op *Op) error {
		if cap(op.Queues) != len(op.Queues) {
			t.Errorf("cap(Queues) = %d, len %d", cap(op.Queues), len(op.Queues))
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
}

// TestReleaseResets checks that Release drops held bytes and state, twice.
func TestReleaseResets(t *testing.T) {
	for _, partial := range []string{"PU", "PUB foo", "PUB foo 5\r\nhel", "PUB foo 5\r\nhello\r", "PING", "CONNECT {"} {
		p := Parser{}
		if err := p.Parse([]byte(partial), checker(func(*Op) error { return nil })); err != nil {
			t.Fatalf("%q: %v", partial, err)
		}
		p.Release()
		p.Release()
		if p.Pending() != 0 {
			t.Fatalf("%q: Pending() = %d after Release", partial, p.Pending())
		}
		got := feed(&p, config{}, [][]byte{[]byte("PING\r\n")})
		if got.err != nil || !reflect.DeepEqual(got.ops, ops(ping())) {
			t.Fatalf("%q: after Release: %s", partial, describe(got))
		}
	}
}

// TestControlLineTrickle checks that a line sent a byte at a time is cut off
// as soon as it passes the limit, with scratch never above the limit.
func TestControlLineTrickle(t *testing.T) {
	p := Parser{MaxControlLine: 100}
	if err := p.Parse([]byte("SUB "), nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		err := p.Parse([]byte("x"), nil)
		if p.Pending() > 100 {
			t.Fatalf("holding %d bytes", p.Pending())
		}
		if err != nil {
			if !errors.Is(err, ErrControlLine) || i != 100 {
				t.Fatalf("after %d bytes: %v", i+1, err)
			}
			break
		}
	}
	p.Release()
}

// TestParserSize keeps the per-connection cost in view: the server holds a
// Parser for each of up to 100,000 connections.
func TestParserSize(t *testing.T) {
	if size := unsafe.Sizeof(Parser{}); size > 56 {
		t.Fatalf("Parser is %d bytes, budget 56", size)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{
		"": -1, "0": 0, "7": 7, "123": 123, "999999999": 999999999, "1000000000": -1,
		"-1": -1, "+1": -1, "1a": -1, " 1": -1, "000000000": 0,
	} {
		if got := parseSize([]byte(in)); got != want {
			t.Errorf("parseSize(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestChunkTiers(t *testing.T) {
	for _, tc := range []struct{ n, tier int }{
		{0, 0}, {1, 0}, {256, 0}, {257, 1}, {512, 1}, {4096, 4}, {4097, 5}, {1 << 20, 12}, {1<<20 + 2, 13},
		{1 << 24, 16}, {1<<24 + 1, -1},
	} {
		if got := tierOf(tc.n); got != tc.tier {
			t.Errorf("tierOf(%d) = %d, want %d", tc.n, got, tc.tier)
		}
		c := getChunk(tc.n)
		if cap(c.b) < tc.n || len(c.b) != 0 {
			t.Errorf("getChunk(%d): len %d cap %d", tc.n, len(c.b), cap(c.b))
		}
		putChunk(c)
	}
	// A chunk that did not come from a tier must not enter one.
	putChunk(&chunk{b: make([]byte, 0, 300)})
	if c := getChunk(300); cap(c.b) != 512 {
		t.Errorf("getChunk(300) cap %d, want 512", cap(c.b))
	}
}

// TestLargePayload sends maximum-size messages in reads of several sizes;
// the every-split-point tables would be too slow at this size.
func TestLargePayload(t *testing.T) {
	payload := make([]byte, DefaultMaxPayload)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	in := []byte("PUB big r 1048576\r\n" + string(payload) + "\r\nHPUB big 12 1048576\r\n" + string(payload) + "\r\nPING\r\n")
	want := ops(pub("big", "r", string(payload)), hpub("big", "", 12, string(payload)), ping())
	for _, readSize := range []int{len(in), 64 << 10, 4096, 1000, 17} {
		var chunks [][]byte
		for i := 0; i < len(in); i += readSize {
			chunks = append(chunks, in[i:min(i+readSize, len(in))])
		}
		p := &Parser{}
		got := feed(p, config{}, chunks)
		if got.err != nil || !reflect.DeepEqual(withoutLines(got.ops), want) || got.pending != 0 {
			t.Fatalf("reads of %d: err %v, %d ops, pending %d", readSize, got.err, len(got.ops), got.pending)
		}
		p.Release()
	}

	p := &Parser{}
	if err := p.Parse([]byte("PUB big 1048577\r\n"), checker(func(*Op) error { return nil })); !errors.Is(err, ErrPayload) {
		t.Fatalf("1 MiB + 1: %v", err)
	}
	if p.Pending() != 0 {
		t.Fatalf("oversized message buffered: Pending() = %d", p.Pending())
	}
}

// stopper stops the parse after every op, as a connection that finishes
// each op asynchronously would; it records the ops in order.
type stopper struct{ ops []Op }

func (s *stopper) Op(op *Op) error {
	s.ops = append(s.ops, cloneOp(op))
	return ErrStop
}

// TestStopAndRest: a handler that returns ErrStop after each op, fed the
// rest each time (and the input cut at every point), sees exactly the ops a
// plain run sees, and the Parser stays usable.
func TestStopAndRest(t *testing.T) {
	in := b("CONNECT {}\r\nPING\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nHPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1 2\r\nPONG\r\n")
	want := feed(&Parser{}, config{}, [][]byte{in}).ops
	for cut := 0; cut <= len(in); cut++ {
		p := &Parser{}
		s := &stopper{}
		for _, chunk := range [][]byte{in[:cut], in[cut:]} {
			buf := append([]byte(nil), chunk...)
			for len(buf) > 0 {
				err := p.Parse(buf, s)
				if err == nil {
					break
				}
				if err != ErrStop {
					t.Fatalf("cut %d: %v", cut, err)
				}
				rest := append([]byte(nil), p.Rest(buf)...)
				for i := range buf {
					buf[i] = '!'
				}
				buf = rest
			}
		}
		if got := describe(result{ops: s.ops}); got != describe(result{ops: want}) {
			t.Fatalf("cut %d:\n got %s\nwant %s", cut, got, describe(result{ops: want}))
		}
	}
}

// TestParsePubFields checks parsePub against the general field splitter
// on every line of up to seven bytes over an alphabet of letters, digits,
// spaces and tabs: the same subject, reply and size, or the same error.
func TestParsePubFields(t *testing.T) {
	const alphabet = "a1 \t0x"
	line := make([]byte, 0, 7)
	var walk func(n int)
	walk = func(n int) {
		var op Op
		got, gotErr := parsePub(&op, line)
		var a [3][]byte
		want, wantErr := -1, error(nil)
		var subj, reply []byte
		switch split(line, a[:]) {
		case 2:
			subj, want = a[0], parseSize(a[1])
		case 3:
			subj, reply, want = a[0], a[1], parseSize(a[2])
		}
		if want < 0 {
			want, wantErr, subj, reply = 0, ErrArgs, nil, nil
		}
		if gotErr != wantErr || (gotErr == nil && (got != want || string(op.Subject) != string(subj) || string(op.Reply) != string(reply))) {
			t.Fatalf("%q: got %q %q %d %v, want %q %q %d %v", line, op.Subject, op.Reply, got, gotErr, subj, reply, want, wantErr)
		}
		if n == 0 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			line = append(line, alphabet[i])
			walk(n - 1)
			line = line[:len(line)-1]
		}
	}
	walk(7)
}

// TestLine: each op carries its argument text as it arrived in Arg, runs of
// spaces and a trailing space kept, for the protocol trace, however the
// input is split.
func TestLine(t *testing.T) {
	for _, tc := range []struct {
		cfg  config
		in   string
		want []string
	}{
		{config{}, "SUB foo  1\r\nUNSUB 1 \r\nPUB  foo\tbar 2\r\nhi\r\nHPUB h 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\nCONNECT {\"a\":1}\n",
			[]string{"foo  1", "1 ", "foo\tbar 2", "h 12 12", "", `{"a":1}`}},
		{config{mode: Leaf}, "LS+ foo q 3\r\nLMSG foo + r q1  q2 2\r\nhi\r\nLS- foo q\r\n",
			[]string{"foo q 3", "foo + r q1  q2 2", "foo q"}},
	} {
		got := runAllChunkings(t, tc.cfg, []byte(tc.in))
		if got.err != nil || len(got.ops) != len(tc.want) {
			t.Fatalf("%q: %s", tc.in, describe(got))
		}
		for i, op := range got.ops {
			if string(op.Arg) != tc.want[i] {
				t.Errorf("%q: op %d Arg %q, want %q", tc.in, i, op.Arg, tc.want[i])
			}
		}
	}
}
