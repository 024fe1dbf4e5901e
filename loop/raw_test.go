package loop_test

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// quiet is the CONNECT of a raw client that wants no +OK, no subject
// checks on publish and no async INFO, as nats.go asks.
const quiet = `{"verbose":false,"pedantic":false}`

// quietHdr also negotiates headers.
const quietHdr = `{"verbose":false,"pedantic":false,"headers":true}`

// TestErrCatalogue sends, on a raw socket, each condition of PROTOCOL.md 2.8
// that applies to a server without leaf links and without per-user
// permissions, and checks the exact bytes that come back and whether the
// connection closes. Every case runs against Canopy and against nats-server
// v2.15.2, so the expectations are the reference's, not ours.
func TestErrCatalogue(t *testing.T) {
	long := strings.Repeat("a", 5000)
	cases := []struct {
		name    string
		config  string
		connect string // "" sends no CONNECT first
		send    string
		want    string
		closes  bool
		after   string // ops that work after a non-closing error; a SUB and a PUB if empty
		then    string // what they bring
	}{
		{name: "unknown op", connect: quiet, send: "FOO BAR\r\n",
			want: "-ERR 'Unknown Protocol Operation'\r\n", closes: true},
		{name: "MSG from a client", connect: quiet, send: "MSG foo 1 1\r\nx\r\n",
			want: "-ERR 'Unknown Protocol Operation'\r\n", closes: true},
		{name: "LS+ from a client", connect: quiet, send: "LS+ foo\r\n",
			want: "-ERR 'Unknown Protocol Operation'\r\n", closes: true},
		{name: "payload not followed by CRLF", connect: quiet, send: "PUB foo 3\r\nhelloX\r\n",
			want: "-ERR 'Unknown Protocol Operation'\r\n", closes: true},
		{name: "UNSUB without argument", connect: quiet, send: "UNSUB\r\n",
			want: "-ERR 'Unknown Protocol Operation'\r\n", closes: true},
		{name: "control line too long", connect: quiet, send: "SUB " + long + " 1\r\n",
			want: "-ERR 'maximum control line exceeded'\r\n", closes: true},
		{name: "control line too long before its LF", connect: quiet, send: "PUB " + long,
			want: "-ERR 'maximum control line exceeded'\r\n", closes: true},
		{name: "control line over a configured limit", config: "max_control_line: 64", connect: quiet,
			send: "SUB " + strings.Repeat("b", 70) + " 1\r\n",
			want: "-ERR 'maximum control line exceeded'\r\n", closes: true},
		{name: "payload over max_payload", connect: quiet, send: "PUB foo 1048577\r\n",
			want: "-ERR 'Maximum Payload Violation'\r\n", closes: true},
		{name: "header payload over max_payload", connect: quietHdr, send: "HPUB foo 12 1048577\r\n",
			want: "-ERR 'Maximum Payload Violation'\r\n", closes: true},
		{name: "payload over a configured max_payload", config: "max_payload: 100", connect: quiet,
			send: "PUB foo 101\r\n", want: "-ERR 'Maximum Payload Violation'\r\n", closes: true},
		{name: "client protocol 2", send: `CONNECT {"verbose":false,"protocol":2}` + "\r\n",
			want: "-ERR 'invalid client protocol'\r\n", closes: true},
		{name: "client protocol -1", send: `CONNECT {"verbose":false,"protocol":-1}` + "\r\n",
			want: "-ERR 'invalid client protocol'\r\n", closes: true},
		{name: "no_responders without headers", send: `CONNECT {"verbose":false,"no_responders":true}` + "\r\n",
			want: "-ERR 'no responders requires headers support'\r\n", closes: true},
		{name: "account in CONNECT", send: `CONNECT {"verbose":false,"account":"A"}` + "\r\n",
			want: "-ERR 'Authorization Violation'\r\n", closes: true},
		{name: "new_account in CONNECT", send: `CONNECT {"verbose":false,"new_account":true}` + "\r\n",
			want: "-ERR 'Authorization Violation'\r\n", closes: true},
		{name: "op before CONNECT with auth", config: `authorization { token: "s3cr3t" }`,
			send: "PING\r\n", want: "-ERR 'Authorization Violation'\r\n", closes: true},
		{name: "SUB before CONNECT with auth", config: `authorization { token: "s3cr3t" }`,
			send: "SUB foo 1\r\n", want: "-ERR 'Authorization Violation'\r\n", closes: true},
		{name: "wrong token", config: `authorization { token: "s3cr3t" }`,
			send: `CONNECT {"verbose":false,"auth_token":"nope"}` + "\r\nPING\r\n",
			want: "-ERR 'Authorization Violation'\r\n", closes: true},
		{name: "no token", config: `authorization { token: "s3cr3t" }`,
			send: `CONNECT {"verbose":false}` + "\r\nPING\r\n",
			want: "-ERR 'Authorization Violation'\r\n", closes: true},
		{name: "wrong password", config: `authorization { user: "u", password: "p" }`,
			send: `CONNECT {"verbose":false,"user":"u","pass":"x"}` + "\r\nPING\r\n",
			want: "-ERR 'Authorization Violation'\r\n", closes: true},
		{name: "wrong user", config: `authorization { user: "u", password: "p" }`,
			send: `CONNECT {"verbose":false,"user":"v","pass":"p"}` + "\r\nPING\r\n",
			want: "-ERR 'Authorization Violation'\r\n", closes: true},

		{name: "invalid SUB subject", connect: quiet, send: "SUB foo..bar 1\r\n",
			want: "-ERR 'Invalid Subject'\r\n"},
		{name: "SUB subject with > inside", connect: quiet, send: "SUB foo.>.bar 1\r\n",
			want: "-ERR 'Invalid Subject'\r\n"},
		{name: "SUB subject with an empty first token", connect: quiet, send: "SUB .foo 1\r\n",
			want: "-ERR 'Invalid Subject'\r\n"},
		{name: "publish to _GR_.", connect: quiet, send: "PUB _GR_.x 1\r\nx\r\n",
			want: "-ERR 'Permissions Violation for Publish to \"_GR_.x\"'\r\n"},
		{name: "reply _R_.", connect: quiet, send: "PUB foo _R_.x 1\r\nx\r\n",
			want: "-ERR 'Permissions Violation for Publish with Reply of \"_R_.x\"'\r\n"},
		{name: "reply $JS.ACK.", connect: quiet, send: "PUB foo $JS.ACK.x 1\r\nx\r\n",
			want: "-ERR 'Permissions Violation for Publish with Reply of \"$JS.ACK.x\"'\r\n"},
		{name: "reply _GR_.", connect: quiet, send: "PUB foo _GR_.x 1\r\nx\r\n",
			want: "-ERR 'Permissions Violation for Publish with Reply of \"_GR_.x\"'\r\n"},
		{name: "reply $GR.", connect: quiet, send: "PUB foo $GR.x 1\r\nx\r\n",
			want: "-ERR 'Permissions Violation for Publish with Reply of \"$GR.x\"'\r\n"},
		{name: "max_subscriptions", config: "max_subscriptions: 1", connect: quiet,
			send: "SUB a 1\r\nSUB b 2\r\n", want: "-ERR 'maximum subscriptions exceeded'\r\n",
			after: "PUB a 1\r\nx\r\nPUB b 1\r\ny\r\n", then: "MSG a 1 1\r\nx\r\n"},
		{name: "pedantic publish to a wildcard", connect: `{"verbose":false,"pedantic":true}`,
			send: "SUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\n",
			want: "-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 2\r\nhi\r\n"},
		{name: "pedantic publish to an invalid subject", connect: `{"verbose":false,"pedantic":true}`,
			send: "SUB foo.> 1\r\nPUB foo..bar 2\r\nhi\r\n",
			want: "-ERR 'Invalid Publish Subject'\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			servers(t, tc.config, func(t *testing.T, addr string) {
				c := dialRaw(t, addr)
				if tc.connect != "" {
					c.connect(tc.connect)
				}
				c.send(tc.send)
				if tc.closes {
					if got := c.closed(); got != tc.want {
						t.Fatalf("got %q before the close, want %q", got, tc.want)
					}
					return
				}
				if got := c.flush(); got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
				// The connection is still usable.
				after, then := tc.after, tc.then
				if after == "" {
					after, then = "SUB still 99\r\nPUB still 2\r\nok\r\n", "MSG still 99 2\r\nok\r\n"
				}
				c.send(after)
				if got := c.flush(); got != then {
					t.Fatalf("after the error: got %q", got)
				}
			})
		})
	}
}

// TestSilentClose checks the parse and argument errors that close a
// connection without any -ERR (PROTOCOL.md 2.4, 2.8).
func TestSilentClose(t *testing.T) {
	cases := []struct{ name, connect, send string }{
		{"PUB with four arguments", quiet, "PUB foo bar baz qux\r\n"},
		{"PUB with one argument", quiet, "PUB foo\r\n"},
		{"SUB with one argument", quiet, "SUB foo\r\n"},
		{"SUB with four arguments", quiet, "SUB foo q 1 2\r\n"},
		{"UNSUB with three arguments", quiet, "UNSUB 1 2 3\r\n"},
		{"PUB with a bad size", quiet, "PUB foo abc\r\n"},
		{"PUB with a ten digit size", quiet, "PUB foo 1234567890\r\n"},
		{"PUB with a negative size", quiet, "PUB foo -1\r\n"},
		{"CONNECT with bad JSON", "", "CONNECT {bad\r\n"},
		{"HPUB without headers negotiated", quiet, "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"},
		{"HPUB with header size over total", quietHdr, "HPUB foo 10 5\r\n"},
		{"HPUB with two arguments", quietHdr, "HPUB foo 5\r\n"},
		{"HPUB with five arguments", quietHdr, "HPUB foo r x 12 14\r\n"},
		{"-ERR from the client", quiet, "-ERR 'boom'\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			servers(t, "", func(t *testing.T, addr string) {
				c := dialRaw(t, addr)
				if tc.connect != "" {
					c.connect(tc.connect)
				}
				c.send(tc.send)
				if got := c.closed(); got != "" {
					t.Fatalf("got %q before the close, want nothing", got)
				}
			})
		})
	}
}

// TestFraming covers the tolerant parts of the grammar: case, whitespace,
// line ends, split reads, empty and header payloads.
func TestFraming(t *testing.T) {
	cases := []struct{ name, connect, send, want string }{
		{"lower and mixed case ops", quiet,
			"sub foo 1\r\npub foo 5\r\nhello\r\nSuB bar 2\r\nPuB bar 2\r\nhi\r\n",
			"MSG foo 1 5\r\nhello\r\nMSG bar 2 2\r\nhi\r\n"},
		{"tabs and runs of spaces", quiet,
			"SUB\tfoo \t 1\r\nSUB  bar  q \t2\r\nPUB \t foo\t\tr  5\r\nhello\r\nPUB bar\t1\r\nx\r\n",
			"MSG foo 1 r 5\r\nhello\r\nMSG bar 2 1\r\nx\r\n"},
		{"bare LF line ends", quiet, "SUB foo 1\nPUB foo 1\nx\r\n",
			"MSG foo 1 1\r\nx\r\n"},
		{"trailing whitespace before the line end", quiet, "SUB foo 1 \r\nPUB foo 1\t\r\nx\r\n",
			"MSG foo 1 1\r\nx\r\n"},
		{"payload holding CRLF and protocol text", quiet,
			"SUB foo 1\r\nPUB foo 17\r\nPING\r\nPUB x 1\r\n\r\n\r\n",
			"MSG foo 1 17\r\nPING\r\nPUB x 1\r\n\r\n\r\n"},
		{"zero-length payload", quiet, "SUB foo 1\r\nPUB foo 0\r\n\r\n",
			"MSG foo 1 0\r\n\r\n"},
		{"PING with trailing text", quiet, "PINGXYZ\r\nPING\tfoo\r\n", ""},
		{"PONG and +OK and INFO from a client are ignored", quiet,
			"PONG\r\n+OK\r\nINFO {}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n", "MSG foo 1 1\r\nx\r\n"},
		{"publish to a wildcard is matched literally", quiet,
			"SUB foo.* 1\r\nSUB foo.bar 2\r\nPUB foo.* 1\r\nx\r\n", "MSG foo.* 1 1\r\nx\r\n"},
		{"HPUB with zero header length is a plain message", quietHdr,
			"SUB foo 1\r\nHPUB foo 0 5\r\nhello\r\n", "MSG foo 1 5\r\nhello\r\n"},
		{"header contents are not validated", quietHdr,
			"SUB foo 1\r\nHPUB foo 5 5\r\nhello\r\n", "HMSG foo 1 5 5\r\nhello\r\n"},
		{"header message with a reply", quietHdr,
			"SUB foo 1\r\nHPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", "HMSG foo 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"},
		{"duplicate sid keeps the first subscription", quiet,
			"SUB foo 1\r\nSUB bar 1\r\nPUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\n", "MSG foo 1 1\r\ny\r\n"},
		{"UNSUB of an unknown sid is ignored", quiet,
			"UNSUB 42\r\nUNSUB 43 5\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n", "MSG foo 1 1\r\nx\r\n"},
		{"UNSUB removes", quiet,
			"SUB foo 1\r\nUNSUB 1\r\nPUB foo 1\r\nx\r\n", ""},
		{"UNSUB with max delivers exactly max", quiet,
			"SUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n",
			"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n"},
		{"UNSUB with max counts what was delivered before it", quiet,
			"SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nUNSUB 1 3\r\nPUB foo 1\r\nc\r\nPUB foo 1\r\nd\r\n",
			"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nMSG foo 1 1\r\nc\r\n"},
		{"UNSUB with max already reached removes at once", quiet,
			"SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nUNSUB 1 2\r\nPUB foo 1\r\nc\r\n",
			"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n"},
		{"queue group with one member and a plain sub", quiet,
			"SUB foo q 1\r\nSUB foo 2\r\nPUB foo 1\r\nx\r\n", "MSG foo 2 1\r\nx\r\nMSG foo 1 1\r\nx\r\n"},
		{"queue names with dots", quiet,
			"SUB foo q.1 1\r\nPUB foo 1\r\nx\r\n", "MSG foo 1 1\r\nx\r\n"},
		{"UNSUB with max 0 removes at once", quiet,
			"SUB foo 1\r\nUNSUB 1 0\r\nPUB foo 1\r\nx\r\n", ""},
		// Groups are served in no particular order (nats-server's vary).
		{"queue names are opaque tokens (any order)", quiet,
			"SUB foo * 1\r\nSUB foo > 2\r\nSUB foo q-$\u00e9 3\r\nPUB foo 1\r\nx\r\n",
			"MSG foo 1 1\r\nx\r\nMSG foo 2 1\r\nx\r\nMSG foo 3 1\r\nx\r\n"},
		{"subjects with $, _ and UTF-8", quiet,
			"SUB $SYS._x.\u00fc 1\r\nPUB $SYS._x.\u00fc 1\r\nx\r\n", "MSG $SYS._x.\u00fc 1 1\r\nx\r\n"},
		{"wildcards over UTF-8 tokens", quiet,
			"SUB *.*.\u00fc 2\r\nPUB $SYS._x.\u00fc 1\r\nx\r\n", "MSG $SYS._x.\u00fc 2 1\r\nx\r\n"},
		{"* and > inside a token are literal", quiet,
			"SUB foo* 1\r\nSUB a>b.c 2\r\nPUB foo* 1\r\nx\r\nPUB foox 1\r\ny\r\nPUB a>b.c 1\r\nz\r\n",
			"MSG foo* 1 1\r\nx\r\nMSG a>b.c 2 1\r\nz\r\n"},
		{"> does not match the parent subject", quiet,
			"SUB foo.> 1\r\nPUB foo 1\r\nx\r\nPUB foo.a.b 1\r\ny\r\n", "MSG foo.a.b 1 1\r\ny\r\n"},
		{"CONNECT with tabs and spaces before the JSON", "",
			"CONNECT \t {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n", "MSG foo 1 1\r\nx\r\n"},
		{"PING before CONNECT without auth", "", "PING\r\n", ""},
		{"publish without CONNECT when no auth", "",
			"SUB foo 1\r\nPUB foo 1\r\nx\r\n", "+OK\r\n+OK\r\nMSG foo 1 1\r\nx\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			servers(t, "", func(t *testing.T, addr string) {
				c := dialRaw(t, addr)
				if tc.connect != "" {
					c.connect(tc.connect)
				}
				c.send(tc.send)
				got := c.flush()
				if strings.HasSuffix(tc.name, "(any order)") {
					got, tc.want = sortedFrames(t, got), sortedFrames(t, tc.want)
				}
				if got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
				if strings.HasPrefix(tc.send, "PING") {
					// The case's own PINGs were answered first.
					c.expect(strings.Repeat("PONG\r\n", strings.Count(tc.send, "PING")-1))
				}
			})
		})
	}
}

// sortedFrames splits a run of MSG frames and joins them sorted.
func sortedFrames(t *testing.T, s string) string {
	t.Helper()
	var out []string
	for s != "" {
		i := strings.Index(s, "\r\n")
		if i < 0 {
			t.Fatalf("no frame in %q", s)
		}
		f := strings.Fields(s[:i])
		var n int
		if _, err := fmt.Sscan(f[len(f)-1], &n); err != nil || i+2+n+2 > len(s) {
			t.Fatalf("bad frame in %q", s)
		}
		end := i + 2 + n + 2
		out = append(out, s[:end])
		s = s[end:]
	}
	sort.Strings(out)
	return strings.Join(out, "")
}

// TestFramingByteByByte writes a whole session one byte per write (the
// socket has TCP_NODELAY, so each write is its own segment unless the
// kernel coalesces what the server has not read yet), without and with
// authentication.
func TestFramingByteByByte(t *testing.T) {
	payload := "hello\r\nworld"
	ops := "SUB foo.* 1\r\nSUB foo.bar q 2\r\n" +
		fmt.Sprintf("PUB foo.bar r %d\r\n%s\r\n", len(payload), payload) +
		"HPUB foo.x 24 26\r\nNATS/1.0\r\nA: bcdefgh\r\n\r\nhi\r\n" +
		"PUB foo.z 0\r\n\r\nPING\r\n"
	want := "MSG foo.bar 1 r 12\r\nhello\r\nworld\r\nMSG foo.bar 2 r 12\r\nhello\r\nworld\r\n" +
		"HMSG foo.x 1 24 26\r\nNATS/1.0\r\nA: bcdefgh\r\n\r\nhi\r\n" +
		"MSG foo.z 1 0\r\n\r\nPONG\r\n"
	for _, tc := range []struct{ name, config, connect string }{
		{"no auth", "", `{"verbose":false,"pedantic":false,"headers":true}`},
		{"token", `authorization { token: "s3cr3t" }`, `{"verbose":false,"pedantic":false,"headers":true,"auth_token":"s3cr3t"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			servers(t, tc.config, func(t *testing.T, addr string) {
				c := dialRaw(t, addr)
				if err := c.conn.SetNoDelay(true); err != nil {
					t.Fatal(err)
				}
				session := "CONNECT " + tc.connect + "\r\n" + ops
				for i := 0; i < len(session); i++ {
					c.send(session[i : i+1])
				}
				c.expect(want)
			})
		})
	}
}

// TestVerbose checks +OK after CONNECT {} (verbose defaults to true) and
// after each SUB, UNSUB and PUB.
func TestVerbose(t *testing.T) {
	servers(t, "", func(t *testing.T, addr string) {
		c := dialRaw(t, addr)
		c.send("CONNECT {}\r\nPING\r\n")
		c.expect("+OK\r\nPONG\r\n")
		c.send("SUB foo 1\r\nPUB foo 1\r\nx\r\nUNSUB 1\r\nPUB foo 1\r\ny\r\n")
		if got := c.flush(); got != "+OK\r\n+OK\r\nMSG foo 1 1\r\nx\r\n+OK\r\n+OK\r\n" {
			t.Fatalf("got %q", got)
		}
		// An error is not followed by +OK.
		c.send("SUB foo..bar 2\r\n")
		if got := c.flush(); got != "-ERR 'Invalid Subject'\r\n" {
			t.Fatalf("got %q", got)
		}
	})
}

// TestConnectInfo checks the INFO that follows the first PONG of a client
// that declares protocol 1, and that a protocol 0 client gets none.
func TestConnectInfo(t *testing.T) {
	servers(t, "", func(t *testing.T, addr string) {
		c := dialRaw(t, addr)
		c.send(`CONNECT {"verbose":false,"protocol":1}` + "\r\nPING\r\n")
		c.expect("PONG\r\n")
		info := c.line()
		for _, want := range []string{`"connect_info":true`, `"remote_account":"$G"`, `"headers":true`,
			`"max_payload":1048576`, `"proto":1`, `"version":"2.15.2"`} {
			if !strings.Contains(info, want) {
				t.Errorf("async INFO %q lacks %s", info, want)
			}
		}
		if !strings.HasPrefix(info, "INFO {") || !strings.HasSuffix(info, "} ") {
			t.Errorf("async INFO %q is not framed as INFO {...} ", info)
		}
		// Only the first PONG is followed by INFO.
		if got := c.flush(); got != "" {
			t.Fatalf("second PING: got %q before PONG", got)
		}

		c0 := dialRaw(t, addr)
		c0.send(`CONNECT {"verbose":false}` + "\r\nPING\r\nPING\r\n")
		c0.expect("PONG\r\nPONG\r\n")
		if got := c0.flush(); got != "" {
			t.Fatalf("protocol 0: got %q", got)
		}
	})
}

// TestSecondConnect sends a second CONNECT on a live connection: it is
// accepted, its options apply, and the subscriptions made before it are
// gone (nats-server drops them, because the client may change account).
func TestSecondConnect(t *testing.T) {
	servers(t, "", func(t *testing.T, addr string) {
		c := dialRaw(t, addr)
		c.connect(quiet)
		c.send("SUB foo 1\r\nPUB foo 1\r\nx\r\n")
		if got := c.flush(); got != "MSG foo 1 1\r\nx\r\n" {
			t.Fatalf("before: got %q", got)
		}
		c.send(`CONNECT {"verbose":true,"pedantic":false}` + "\r\nPING\r\n")
		c.expect("+OK\r\nPONG\r\n")
		p := dialRaw(t, addr)
		p.connect(quiet)
		p.send("PUB foo 1\r\ny\r\n")
		p.flush()
		if got := c.flush(); got != "" {
			t.Fatalf("old subscription after a second CONNECT: got %q", got)
		}
		// The sid may be used again, and verbose now applies.
		c.send("SUB foo 1\r\n")
		if got := c.flush(); got != "+OK\r\n" {
			t.Fatalf("new SUB: got %q", got)
		}
		p.send("PUB foo 1\r\nz\r\n")
		p.flush()
		if got := c.flush(); got != "MSG foo 1 1\r\nz\r\n" {
			t.Fatalf("new subscription: got %q", got)
		}
	})
}

// TestSecondConnectAuth: the second CONNECT is authenticated again.
func TestSecondConnectAuth(t *testing.T) {
	servers(t, `authorization { token: "s3cr3t" }`, func(t *testing.T, addr string) {
		c := dialRaw(t, addr)
		c.connect(`{"verbose":false,"auth_token":"s3cr3t"}`)
		c.send(`CONNECT {"verbose":false,"auth_token":"wrong"}` + "\r\nPING\r\n")
		if got := c.closed(); got != "-ERR 'Authorization Violation'\r\n" {
			t.Fatalf("got %q", got)
		}
		// A second CONNECT that names no credentials keeps the first one's.
		k := dialRaw(t, addr)
		k.connect(`{"verbose":false,"auth_token":"s3cr3t"}`)
		k.send(`CONNECT {"verbose":false}` + "\r\nPING\r\n")
		k.expect("PONG\r\n")
	})
}

// TestNoRespondersWire checks the exact 503 bytes: HMSG on the requester's
// own sid, sizes 32+len(subject), and a close-free connection.
func TestNoRespondersWire(t *testing.T) {
	servers(t, "", func(t *testing.T, addr string) {
		c := dialRaw(t, addr)
		c.connect(`{"verbose":false,"headers":true,"no_responders":true}`)
		c.send("SUB _INBOX.x.* 9\r\nPUB svc.none _INBOX.x.1 1\r\nx\r\n")
		l := 32 + len("svc.none")
		want := fmt.Sprintf("HMSG _INBOX.x.1 9 %d %d\r\nNATS/1.0 503\r\nNats-Subject: svc.none\r\n\r\n\r\n", l, l)
		if got := c.flush(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		// No reply subscription of the requester's own: nothing.
		c.send("PUB svc.none _INBOX.y.1 1\r\nx\r\n")
		if got := c.flush(); got != "" {
			t.Fatalf("without a reply sub: got %q", got)
		}
		// A queue subscription on the reply does not count either.
		c.send("SUB _INBOX.z.1 q 10\r\nPUB svc.none _INBOX.z.1 1\r\nx\r\n")
		if got := c.flush(); got != "" {
			t.Fatalf("with a queue reply sub: got %q", got)
		}
		// Without no_responders in CONNECT: nothing.
		d := dialRaw(t, addr)
		d.connect(`{"verbose":false,"headers":true}`)
		d.send("SUB _INBOX.x.* 9\r\nPUB svc.none _INBOX.x.1 1\r\nx\r\n")
		if got := d.flush(); got != "" {
			t.Fatalf("without no_responders: got %q", got)
		}
	})
}

// TestHeaderStripping: a subscriber that did not negotiate headers gets
// the body only, as MSG.
func TestHeaderStripping(t *testing.T) {
	servers(t, "", func(t *testing.T, addr string) {
		sub := dialRaw(t, addr)
		sub.connect(quiet)
		sub.send("SUB foo 1\r\n")
		sub.flush()
		hsub := dialRaw(t, addr)
		hsub.connect(quietHdr)
		hsub.send("SUB foo 1\r\n")
		hsub.flush()
		pub := dialRaw(t, addr)
		pub.connect(quietHdr)
		pub.send("HPUB foo r 23 28\r\nNATS/1.0\r\nX-Test: 1\r\n\r\nhello\r\n")
		pub.flush()
		if got := sub.flush(); got != "MSG foo 1 r 5\r\nhello\r\n" {
			t.Fatalf("without headers: got %q", got)
		}
		if got := hsub.flush(); got != "HMSG foo 1 r 23 28\r\nNATS/1.0\r\nX-Test: 1\r\n\r\nhello\r\n" {
			t.Fatalf("with headers: got %q", got)
		}
	})
}

// TestMaxConnections: the connection over max_connections gets INFO and
// then the error, and is closed; the others keep working, and a slot that
// frees up can be used again.
func TestMaxConnections(t *testing.T) {
	servers(t, "max_connections: 2", func(t *testing.T, addr string) {
		a := dialRaw(t, addr)
		a.connect(quiet)
		b := dialRaw(t, addr)
		b.connect(quiet)
		c := dialRaw(t, addr)
		if got := c.closed(); got != "-ERR 'maximum connections exceeded'\r\n" {
			t.Fatalf("third connection: got %q", got)
		}
		if got := a.flush(); got != "" {
			t.Fatalf("first connection: got %q", got)
		}
		b.conn.Close()
		// The server notices the close at its own pace: retry a bounded
		// number of times until a new connection is admitted.
		deadline := time.Now().Add(wait)
		for {
			d := dialRaw(t, addr)
			d.send("CONNECT {\"verbose\":false}\r\nPING\r\n")
			d.conn.SetReadDeadline(time.Now().Add(wait))
			got := d.until("\r\n")
			if got == "PONG" {
				break
			}
			if got != "-ERR 'maximum connections exceeded'" || time.Now().After(deadline) {
				t.Fatalf("after a close: got %q", got)
			}
			d.conn.Close()
			time.Sleep(10 * time.Millisecond) // no signal exists for "the server saw the close"
		}
	})
}

// TestAuthTimeout: a client that never sends CONNECT gets the error after
// the configured timeout, not before.
func TestAuthTimeout(t *testing.T) {
	servers(t, `authorization { token: "s3cr3t", timeout: 0.5 }`, func(t *testing.T, addr string) {
		t.Parallel()
		c := dialRaw(t, addr)
		start := time.Now()
		if got := c.closed(); got != "-ERR 'Authentication Timeout'\r\n" {
			t.Fatalf("got %q", got)
		}
		if d := time.Since(start); d < 400*time.Millisecond || d > 2*time.Second {
			t.Fatalf("timed out after %v, configured 0.5s", d)
		}
	})
}

// TestAuthTimeoutStopsAtConnect: a client that authenticates in time is
// not timed out later.
func TestAuthTimeoutStopsAtConnect(t *testing.T) {
	s, _ := startCanopy(t, `authorization { token: "s3cr3t", timeout: 0.3 }`)
	c := dialRaw(t, s.ClientAddr().String())
	c.connect(`{"verbose":false,"auth_token":"s3cr3t"}`)
	// Wait past the timeout on a signal that takes longer: a second,
	// unauthenticated client's own timeout.
	d := dialRaw(t, s.ClientAddr().String())
	if got := d.closed(); got != "-ERR 'Authentication Timeout'\r\n" {
		t.Fatalf("second client: got %q", got)
	}
	if got := c.flush(); got != "" {
		t.Fatalf("authenticated client: got %q", got)
	}
}

// TestStaleConnection: a client that ignores the server's PINGs gets
// ping_max of them and then -ERR 'Stale Connection'; one that answers stays.
func TestStaleConnection(t *testing.T) {
	servers(t, "ping_interval: \"250ms\"\nping_max: 2", func(t *testing.T, addr string) {
		t.Parallel()
		ok := dialRaw(t, addr)
		ok.connect(quiet)
		alive := make(chan string, 1)
		go answerPings(ok, 3, alive)
		c := dialRaw(t, addr)
		c.connect(quiet)
		start := time.Now()
		if got := c.closed(); got != "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n" {
			t.Fatalf("got %q", got)
		}
		if d := time.Since(start); d < 500*time.Millisecond {
			t.Fatalf("stale after %v with a 250ms interval and 2 pings", d)
		}
		select {
		case got := <-alive:
			if got != "MSG alive 1 1|x|PONG" {
				t.Fatalf("answering client: %s", got)
			}
		case <-time.After(wait):
			t.Fatal("answering client: no answer")
		}
	})
}

// answerPings answers n server PINGs on c, then checks that c still
// delivers, answering PINGs meanwhile. It sends the lines that arrived
// (PINGs left out, joined by |) or what went wrong to done. It runs on its
// own goroutine, so it reports instead of failing the test.
func answerPings(c *raw, n int, done chan<- string) {
	c.conn.SetDeadline(time.Now().Add(3 * wait))
	var got []string
	for pings := 0; ; {
		l, err := c.r.ReadString('\n')
		if err != nil {
			done <- fmt.Sprintf("after %d PINGs and %q: %v", pings, got, err)
			return
		}
		l = strings.TrimSuffix(l, "\r\n")
		if l == "PING" {
			if _, err := c.conn.Write([]byte("PONG\r\n")); err != nil {
				done <- err.Error()
				return
			}
			if pings++; pings == n {
				if _, err := c.conn.Write([]byte("SUB alive 1\r\nPUB alive 1\r\nx\r\nPING\r\n")); err != nil {
					done <- err.Error()
					return
				}
			}
			continue
		}
		got = append(got, l)
		if l == "PONG" || len(got) > 3 {
			done <- strings.Join(got, "|")
			return
		}
	}
}

// TestLargeRawPayload: a payload of exactly max_payload goes through, one
// byte over closes.
func TestLargeRawPayload(t *testing.T) {
	servers(t, "", func(t *testing.T, addr string) {
		body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		sub := dialRaw(t, addr)
		sub.connect(quiet)
		sub.send("SUB big 1\r\n")
		sub.flush()
		pub := dialRaw(t, addr)
		pub.connect(quiet)
		pub.send(fmt.Sprintf("PUB big %d\r\n%s\r\n", len(body), body))
		pub.flush()
		sub.expect(fmt.Sprintf("MSG big 1 %d\r\n%s\r\n", len(body), body))
		sub.flush()

		pub.send(fmt.Sprintf("PUB big %d\r\n", len(body)+1))
		if got := pub.closed(); got != "-ERR 'Maximum Payload Violation'\r\n" {
			t.Fatalf("1 MiB + 1: got %q", got)
		}
	})
}
