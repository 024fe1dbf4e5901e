package loop_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/logger"
	"github.com/canopy-nats/canopy/loop"
	"github.com/nats-io/nats.go"
)

// syncBuffer is a log destination safe to read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTrace: with trace on, the ops a client sends and the lines it is
// sent are logged as nats-server logs them, with the password redacted.
func TestTrace(t *testing.T) {
	var out syncBuffer
	opts := &conf.Options{Host: "127.0.0.1", Port: -1, Trace: true, Loops: 1,
		Authorization: conf.Authorization{Username: "u", Password: "secret"}}
	s, err := loop.New(opts, logger.NewWriter(&out, logger.Options{Trace: true}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c := dialRaw(t, s.ClientAddr().String())
	c.send(`CONNECT {"verbose":false,"user":"u","pass":"secret"}` + "\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n")
	c.expect("MSG foo 1 5\r\nhello\r\nPONG\r\n")
	want := []string{
		`<<- [CONNECT {"verbose":false,"user":"u","pass":"[REDACTED]"}]`,
		"<<- [SUB foo 1]",
		"<<- [PUB foo 5]",
		`<<- MSG_PAYLOAD: ["hello"]`,
		"->> [MSG foo 1 5]",
		"<<- [PING]",
		"->> [PONG]",
	}
	// Each line is logged on the loop before the bytes it traces are
	// written, so the PONG above means they are all there.
	log := out.String()
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("trace line %q missing", w)
		}
	}
	if strings.Contains(log, "secret") {
		t.Errorf("the password reached the log")
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}

// traceMasks hide the ports and connection ids in a trace line.
var traceMasks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+ - cid:\d+`), "127.0.0.1:<port> - cid:<n>"},
}

// traceScript runs the same client session against a server at url and
// returns the trace lines the server logged, masked, once the session's
// last line is in. The server-initiated PING and its PONG are left out:
// whether the first one falls inside the session is a matter of timing.
func traceScript(t *testing.T, url, user string, sink *natstest.LogSink) []string {
	t.Helper()
	nc := connect(t, url, nats.Name("tracer"), nats.UserInfo(user, "pw"))
	foo, err := nc.SubscribeSync("foo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.QueueSubscribeSync("bar", "q"); err != nil {
		t.Fatal(err)
	}
	once, err := nc.SubscribeSync("once")
	if err != nil {
		t.Fatal(err)
	}
	if err := once.AutoUnsubscribe(1); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	nc.Publish("foo", []byte("hello"))
	nc.Publish("foo", nil)
	m := nats.NewMsg("foo")
	m.Header.Set("K", "v")
	m.Data = []byte("with header")
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	nc.Publish("once", []byte("1"))
	flush(t, nc)
	if err := foo.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	nc.Close()
	// The queue subscription goes with the connection.
	sink.Wait(t, "<-> [DELSUB 2]", wait)

	// A subject the server refuses.
	addr := strings.TrimPrefix(url, "nats://")
	c := dialRaw(t, addr)
	c.send(`CONNECT {"verbose":false,"user":"` + user + `","pass":"pw"}` + "\r\nSUB foo..bar 9\r\nPING\r\n")
	c.expect("-ERR 'Invalid Subject'\r\nPONG\r\n")
	sink.WaitCount(t, "->> [PONG]", 4, wait)

	var out []string
	for _, l := range sink.Lines() {
		if !strings.HasPrefix(l, "[TRC] ") || strings.HasSuffix(l, "->> [PING]") || strings.HasSuffix(l, "<<- [PONG]") {
			continue
		}
		for _, m := range traceMasks {
			l = m.re.ReplaceAllString(l, m.with)
		}
		out = append(out, l)
	}
	return out
}

// TestTraceLines runs one client session against Canopy and nats-server,
// both tracing, and compares the trace lines field by field: the ops'
// arguments as nats.go sent them, the payload lines, the DELSUB lines of
// an UNSUB, an auto-unsubscribe and a close, the -ERR line, and the
// client's version, language and name in the connection's name.
func TestTraceLines(t *testing.T) {
	for _, tc := range []struct{ name, config, user, label string }{
		{"no auth", "trace: true\n", "", ""},
		// A user adds the account and how it logged in to the name.
		{"user", "trace: true\nauthorization { user: bob, password: pw }\n", "bob", ` - "$G/user:bob"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			canopySink := natstest.NewLogSink("canopy", false)
			cs := natstest.StartCanopyLogger(t, tc.config, canopySink)
			got := traceScript(t, cs.ClientURL(), tc.user, canopySink)

			natsSink := natstest.NewLogSink("nats", false)
			ns := natstest.StartNATSLogger(t, tc.config, natsSink)
			want := traceScript(t, ns.ClientURL(), tc.user, natsSink)

			label := fmt.Sprintf(`127.0.0.1:<port> - cid:<n> - "v%s:go:tracer"%s - `, nats.Version, tc.label)
			for _, line := range []string{
				"<<- [SUB foo  1]", "<<- [SUB bar q 2]", "<<- [UNSUB 3 1]", "<<- [UNSUB 1 ]", "<-> [DELSUB 1]",
				"<-> [DELSUB 3]", "->> [MSG foo 1 5]", `->> MSG_PAYLOAD: ["hello"]`,
			} {
				if !slices.Contains(want, "[TRC] "+label+line) {
					t.Errorf("nats-server traced no %q", label+line)
				}
			}
			if !slices.Contains(want, "[TRC] 127.0.0.1:<port> - cid:<n>"+tc.label+" - ->> [-ERR Invalid Subject]") {
				t.Errorf("nats-server traced no -ERR line")
			}
			for i := 0; i < max(len(got), len(want)); i++ {
				var g, w string
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Errorf("trace line %d:\ncanopy:      %q\nnats-server: %q", i, g, w)
				}
			}
			if strings.Contains(strings.Join(got, "\n"), `"pw"`) {
				t.Errorf("the password reached the trace")
			}
			if t.Failed() {
				t.Logf("canopy:\n\t%s\nnats-server:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		})
	}
}

// TestTraceLabelJWT: in operator mode a client's name in the log carries
// its account with the account JWT's name, and its user public key, as
// nats-server writes them.
func TestTraceLabelJWT(t *testing.T) {
	tr := newTrust(t)
	accKP, accPub := tr.account(t, "TEAM", nil)
	u := newUser(t, accKP, accPub, nil)
	config := "trace: true\n" + tr.config(t)
	lineOf := func(t *testing.T, url string, sink *natstest.LogSink) string {
		nc := connect(t, url, u.creds(t))
		if _, err := nc.SubscribeSync("foo"); err != nil {
			t.Fatal(err)
		}
		flush(t, nc)
		l := sink.Wait(t, "<<- [SUB foo  1]", wait)
		for _, m := range traceMasks {
			l = m.re.ReplaceAllString(l, m.with)
		}
		return l
	}
	canopySink, natsSink := natstest.NewLogSink("canopy", false), natstest.NewLogSink("nats", false)
	got := lineOf(t, natstest.StartCanopyLogger(t, config, canopySink).ClientURL(), canopySink)
	want := lineOf(t, natstest.StartNATSLogger(t, config, natsSink).ClientURL(), natsSink)
	label := fmt.Sprintf(`"%s/TEAM/jwt:%s"`, accPub, u.pub)
	if !strings.Contains(want, label) {
		t.Errorf("nats-server's line %q lacks %s", want, label)
	}
	if got != want {
		t.Errorf("canopy:      %q\nnats-server: %q", got, want)
	}
}
