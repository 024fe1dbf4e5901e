package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// startupMasks hide what differs from run to run and server to server in a
// start-up line: the server's id (its name too, by default), the ports, and
// which server and version it is.
var startupMasks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`^\[\d+\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} `), ""},
	{regexp.MustCompile(`\bN[A-Z2-7]{55}\b`), "<id>"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:<port>"},
	{regexp.MustCompile(`^\[INF\] Starting (canopy|nats-server)$`), "[INF] Starting <server>"},
	{regexp.MustCompile(`^\[INF\]   Version:  .*$`), "[INF]   Version:  <version>"},
}

// startupLines are a server's log lines up to "Server is ready", masked,
// with file standing for the configuration file's path. Canopy's own lines
// are set apart: its open-file limit and its configuration warnings.
func startupLines(log []string, file string) (lines, own []string) {
	for _, l := range log {
		for _, m := range startupMasks {
			l = m.re.ReplaceAllString(l, m.with)
		}
		l = strings.ReplaceAll(l, file, "<file>")
		switch {
		case strings.HasPrefix(l, "[INF]   Files:"), strings.HasPrefix(l, "[WRN] <file>:"):
			own = append(own, l)
		default:
			lines = append(lines, l)
		}
		if l == "[INF] Server is ready" {
			break
		}
	}
	return lines, own
}

// TestStartupLines runs the binary and nats-server on the same
// configuration and compares what each logs from its banner to "Server is
// ready", line by line, with ids, ports, paths and versions masked (the
// configuration's digest is not: the same file has the same digest). The
// plaintext password warning comes where nats-server writes it, and
// Canopy's configuration warnings after the configuration file line and
// the warnings nats-server finds in its options, before the listeners.
func TestStartupLines(t *testing.T) {
	const bcrypt = "$2a$04$ggSJDgS0IQz06bH4fm8Uu.gRfJHXAQyU0HZYd7KYAY1vhxvZcSqC2"
	cases := []struct {
		name, text string
		plaintext  bool
		warnings   []string
	}{
		{"plaintext users", "listen: 127.0.0.1:-1\nauthorization { users: [{user: a, password: b}] }\nconnect_error_reports: 5\n",
			true, []string{`"connect_error_reports" is not supported by Canopy, ignored`}},
		{"plaintext account user", "listen: 127.0.0.1:-1\naccounts { A { users: [{user: a, password: " + fmt.Sprintf("%q", bcrypt) +
			"}] }, B { users: [{user: b, password: b}] } }\n", true, nil},
		{"bcrypt", "listen: 127.0.0.1:-1\nauthorization { user: a, password: " + fmt.Sprintf("%q", bcrypt) + " }\n", false, nil},
		{"token", "listen: 127.0.0.1:-1\nauthorization { token: t }\n", false, nil},
		{"operator", operatorConfig(t), false, nil},
		{"large payloads", "listen: 127.0.0.1:-1\nmax_payload: 16MB\nconnect_error_reports: 5\n",
			false, []string{`"connect_error_reports" is not supported by Canopy, ignored`}},
		{"listeners", "listen: 127.0.0.1:-1\nhttp: 127.0.0.1:-1\nleafnodes { listen: 127.0.0.1:-1 }\nwebsocket { listen: 127.0.0.1:-1, no_tls: true }\n", false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := natstest.NewLogSink("nats", false)
			ns := natstest.StartNATSLogger(t, tc.text, sink)
			sink.Wait(t, "Server is ready", 10*time.Second)
			want, _ := startupLines(sink.Lines(), ns.ConfigFile)

			f := writeFile(t, t.TempDir(), "canopy.conf", tc.text)
			s := startServer(t, "-c", f)
			s.waitFor(t, "Server is ready")
			got, own := startupLines(s.log, f)

			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("start-up lines differ\ncanopy:\n\t%s\nnats-server:\n\t%s",
					strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
			if has := strings.Contains(strings.Join(got, "\n"), "[WRN] Plaintext passwords detected, use nkeys or bcrypt"); has != tc.plaintext {
				t.Errorf("plaintext warning logged: %v, want %v", has, tc.plaintext)
			}
			if !strings.Contains(strings.Join(got, "\n"), "[INF] Using configuration file: <file> (sha256:") {
				t.Errorf("no configuration file line with its digest:\n\t%s", strings.Join(got, "\n\t"))
			}
			// Canopy's warnings come last before the listeners start, after
			// the configuration file line and nats-server's own warnings.
			used, listening := -1, -1
			for j, l := range s.log {
				if used < 0 && strings.Contains(l, "Using configuration file: ") {
					used = j
				}
				if listening < 0 && (strings.Contains(l, "Listening for ") || strings.Contains(l, "Starting http monitor")) {
					listening = j
				}
			}
			for i, w := range tc.warnings {
				at := listening - len(tc.warnings) + i
				if used < 0 || at <= used || !strings.Contains(s.log[at], w) {
					t.Errorf("warning %q not last before the listeners:\n\t%s", w, strings.Join(s.log, "\n\t"))
				}
				if !strings.Contains(strings.Join(own, "\n"), w) {
					t.Errorf("warning %q not among Canopy's own lines %q", w, own)
				}
			}
		})
	}
}

// operatorConfig trusts a new operator whose system account is preloaded
// in a memory resolver.
func operatorConfig(t *testing.T) string {
	t.Helper()
	op, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	opPub, _ := op.PublicKey()
	sys, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	sysPub, _ := sys.PublicKey()
	ac := jwt.NewAccountClaims(sysPub)
	ac.Name = "SYS"
	acJWT, err := ac.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "OP"
	oc.SystemAccount = sysPub
	opJWT, err := oc.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("listen: 127.0.0.1:-1\noperator: %q\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: { %s: %q }\n",
		opJWT, sysPub, sysPub, acJWT)
}
