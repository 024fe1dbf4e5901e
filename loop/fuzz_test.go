package loop_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
)

// The fuzz targets of issue 12 that need a running server. They live here
// rather than beside FuzzParse in parser/, because what they check (leaf
// links registered and released, a reload applied) is the loop's, and
// parser/ must not depend on it. Each starts one Canopy for the whole run
// and drives it over real TCP, so a panic anywhere in the server fails the
// run and coverage reaches the leaf dispatch and the reload.

// fuzzLeafHub is the hub the leaf-protocol fuzzer speaks to: a leafnode
// port without auth (anyone may try anything on it), a subscription limit
// the fuzzer can reach, and a small payload limit so that oversized LMSGs
// are cheap to try.
const fuzzLeafHub = "leafnodes { listen: \"127.0.0.1:-1\" }\nmax_subscriptions: 64\nmax_payload: 4096\n"

// fuzzLeafConnect is the valid prefix every input follows: a named link
// (so a second CONNECT meets the duplicate check) and one LS+ whose
// delivery proves the link works before the fuzzed bytes arrive.
const fuzzLeafConnect = `CONNECT {"name":"fz","headers":true,"version":"2.15.2","remote_account":"$G"}` + "\r\nLS+ fz.ok\r\nPING\r\n"

// FuzzLeafProto sends a valid leaf handshake, checks that it works (a
// message published on the hub to the link's interest arrives as LMSG),
// then sends the fuzzed bytes: LS+/LS-/LMSG/HMSG/INFO/CONNECT sequences
// mutated by the fuzzer. After the link is closed, from either side, the
// hub must count no leaf link anywhere (/varz leafnodes, the account's
// links, /leafz) and hold no subscription the link made.
func FuzzLeafProto(f *testing.F) {
	seeds := []string{
		"LS+ a\r\nLS+ b q 3\r\nLS- a\r\nLS- b q\r\n",
		"LMSG fz.ok 2\r\nhi\r\nLMSG x + r q1 q2 3\r\nabc\r\nHMSG h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
		"HMSG h | q1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nLMSG fz.ok r 2\r\nhi\r\n",
		`CONNECT {"name":"fz","headers":true,"version":"2.15.2","remote_account":"$G"}` + "\r\n",
		`CONNECT {"headers":true}` + "\r\nLS+ a\r\n" + `CONNECT {"name":"other"}` + "\r\n",
		`INFO {"server_id":"X","name":"x","leafnode_urls":["127.0.0.1:1"]}` + "\r\nLS+ a\r\n",
		`INFO {"connect_info":true,"cluster":"c"}` + "\r\n",
		"LS+ $LDS.fz\r\nLS+ >\r\nLS+ *.*\r\nLS- >\r\n",
		"LS+ a b c d\r\nLS- \r\nLMSG\r\nLMSG a 99999999\r\n",
		"LMSG a 5\r\nabc\r\n",
		"PING\r\nPONG\r\n+OK\r\n-ERR 'boom'\r\n",
		"SUB a 1\r\nPUB a 1\r\nx\r\nUNSUB 1\r\n",
		strings.Repeat("LS+ many.x\r\n", 3) + strings.Repeat("LS+ n.", 10) + "\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	hub := natstest.StartCanopy(f, fuzzLeafHub)
	addr := hub.LeafAddr().String()
	baseSubs := hub.Stats().Subscriptions
	var n int
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 8<<10 {
			return
		}
		n++
		conn, err := net.DialTimeout("tcp", addr, wait)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		readLine := func(d time.Duration) (string, error) {
			_ = conn.SetReadDeadline(time.Now().Add(d))
			l, err := r.ReadString('\n')
			return strings.TrimRight(l, "\r\n"), err
		}
		if l, err := readLine(wait); err != nil || !strings.HasPrefix(l, "INFO ") {
			t.Fatalf("greeting %q: %v", l, err)
		}
		write := func(b []byte) {
			_ = conn.SetWriteDeadline(time.Now().Add(wait))
			if _, err := conn.Write(b); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		write([]byte(fuzzLeafConnect))
		for i := 0; ; i++ {
			l, err := readLine(wait)
			if err != nil || i > 100 {
				t.Fatalf("valid handshake: no PONG (%v, last %q)", err, l)
			}
			if l == "PONG" {
				break
			}
			if strings.HasPrefix(l, "-ERR") {
				t.Fatalf("valid handshake refused: %q", l)
			}
		}
		payload := strconv.Itoa(n)
		if !hub.PublishInternal("$G", "fz.ok", []byte(payload)) {
			t.Fatal("no $G account")
		}
		want := fmt.Sprintf("LMSG fz.ok %d", len(payload))
		for i := 0; ; i++ {
			l, err := readLine(wait)
			if err != nil || i > 100 {
				t.Fatalf("valid prefix: %q never arrived (%v, last %q)", want, err, l)
			}
			if l == want {
				if body, err := readLine(wait); err != nil || body != payload {
					t.Fatalf("LMSG body %q (%v), want %q", body, err, payload)
				}
				break
			}
		}

		// The fuzzed bytes, then a PING: a PONG or the server's close says
		// it processed them; an op left incomplete by the input swallows
		// the PING, and a short wait covers that case.
		write(append(append([]byte(nil), data...), "\r\nPING\r\n"...))
		for i := 0; i < 1000; i++ {
			l, err := readLine(50 * time.Millisecond)
			if err != nil || l == "PONG" {
				break
			}
		}
		conn.Close()
		natstest.WaitFor(t, 10*time.Second, "the leaf link released", func() bool {
			a, _ := hub.Account("$G")
			return hub.NumLeafs() == 0 && hub.Stats().Leafs == 0 && a.Leafs == 0 &&
				len(hub.Leafz()) == 0 && hub.Stats().Subscriptions == baseSubs
		})
	})
}

// fuzzReloadBase is the configuration FuzzConfigReload starts the server
// with and mutates: most of what a reload may change (auth, limits,
// permissions, leafnode authorization, accounts) in nats-server's format.
const fuzzReloadBase = `# the base of the config/reload fuzzer
listen: "127.0.0.1:-1"
max_payload: 65536
max_control_line: 4096
max_connections: 1000
max_subscriptions: 1000
max_pending: 67108864
ping_interval: "2m"
ping_max: 2
write_deadline: "10s"
debug: false
trace: false
accounts {
  A {
    users = [
      {user: a, password: apw, permissions: {publish: ["x.>", "_INBOX.>"], subscribe: {allow: ["y.>"], deny: ["y.z"]}}}
      {user: b, password: bpw}
    ]
  }
  B { users = [ {user: c, password: cpw, permissions: {publish: {deny: [">"]}}} ] }
}
no_auth_user: b
leafnodes {
  listen: "127.0.0.1:-1"
  authorization { user: leaf, password: lpw, account: A, timeout: 2 }
}
`

// lineIn matches the places an error can name: "<file>:<line>:<col>: " as
// conf.Error writes them, and the conf lexer's "Parse error on line N".
var (
	confPlace  = regexp.MustCompile(`^(.*):([0-9]+):([0-9]+): `)
	parsePlace = regexp.MustCompile(`Parse error on line ([0-9]+)`)
)

// FuzzConfigReload reads mutated configurations: reading never panics;
// every error names the file, and a line that exists in it when it names
// one; a configuration that reads is reloaded into a running server, which
// must not panic, must still greet a new client, and must take the base
// configuration back.
func FuzzConfigReload(f *testing.F) {
	f.Add([]byte(fuzzReloadBase))
	f.Add([]byte(strings.Replace(fuzzReloadBase, "max_connections: 1000", "max_connections: 1", 1)))
	f.Add([]byte(strings.Replace(fuzzReloadBase, "no_auth_user: b", "authorization { token: s3cr3t }", 1)))
	f.Add([]byte(strings.Replace(fuzzReloadBase, `password: lpw, account: A`, `password: other, account: B`, 1)))
	f.Add([]byte(strings.Replace(fuzzReloadBase, "debug: false", "debug: true\nlisten: 127.0.0.1:1", 1)))
	f.Add([]byte("port: 4222\nfoo {\n"))
	f.Add([]byte("include \"missing.conf\"\n"))
	f.Add([]byte("leafnodes { remotes = [ {url: \"nats-leaf://127.0.0.1:1\", account: A} ] }\n"))
	f.Add([]byte("authorization { users = [ {user: a, password: \"$2a$04$abcdefghijklmnopqrstuu5HGVz3aRzgQeQBWrd5ybT7CFhFkjW7e\"} ] }\n"))

	dir := f.TempDir()
	basePath := filepath.Join(dir, "base.conf")
	if err := os.WriteFile(basePath, []byte(fuzzReloadBase), 0o600); err != nil {
		f.Fatal(err)
	}
	baseOpts, _, err := conf.Load(basePath)
	if err != nil {
		f.Fatal(err)
	}
	s := natstest.StartCanopyOpts(f, baseOpts, basePath)
	addr := s.ClientAddr().String()
	path := filepath.Join(dir, "fuzzed.conf")

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return
		}
		opts, _, err := conf.Parse(data, path)
		if err != nil {
			if opts != nil {
				t.Fatalf("options and an error: %v", err)
			}
			checkConfErrors(t, err, path, strings.Count(string(data), "\n")+1)
			return
		}
		// The reload may refuse the configuration; what matters is that
		// it never panics and leaves a server that works.
		rerr := s.Reload(opts)
		greets(t, addr)
		if rerr != nil {
			return
		}
		back, _, err := conf.Load(basePath)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Reload(back); err != nil {
			t.Fatalf("the base configuration does not reload after %q: %v", data, err)
		}
		greets(t, addr)
	})
}

// checkConfErrors checks that each of the problems joined in err names the
// file, and that a line it names lies within the file's lines.
func checkConfErrors(t *testing.T, err error, path string, lines int) {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		msg := e.Error()
		if !strings.HasPrefix(msg, path+":") {
			t.Fatalf("error does not name the file %s: %q", path, msg)
		}
		line := 0
		if m := confPlace.FindStringSubmatch(msg); m != nil && m[1] == path {
			line, _ = strconv.Atoi(m[2])
		} else if m := parsePlace.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		var ce *conf.Error
		if errors.As(e, &ce) && ce.Line > 0 && ce.Line != line {
			t.Fatalf("error at line %d reads %q", ce.Line, msg)
		}
		if line > lines {
			t.Fatalf("error names line %d of a %d-line file: %q", line, lines, msg)
		}
	}
}

// greets dials the client port and reads the INFO a live server sends
// first, whatever its auth.
func greets(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatalf("dial after reload: %v", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "INFO ") {
		t.Fatalf("no greeting after reload: %q, %v", l, err)
	}
}
