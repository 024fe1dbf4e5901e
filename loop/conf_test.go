package loop_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/natstest"
)

// seedHub is the hub config of the leaf node tutorial in the seed
// (../shared/seed/000_7f1f17e0792e8cea.txt), as conf/testdata keeps it.
func seedHub(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "conf", "testdata", "seed_hub.conf"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"leafnodes {", "port: 7422", "authorization {", `token: "s3cr3t"`} {
		if !strings.Contains(text, want) {
			t.Fatalf("seed hub config lost %q:\n%s", want, text)
		}
	}
	return text
}

// TestSeedHubConfig runs the tutorial's hub config. Only the leafnode
// port is changed, to a free port on 127.0.0.1, so the test can run beside
// anything else: the rest of the text is the seed's.
func TestSeedHubConfig(t *testing.T) {
	leafPort := natstest.FreePort(t)
	text := strings.Replace(seedHub(t), "port: 7422", fmt.Sprintf("host: 127.0.0.1\nport: %d", leafPort), 1)
	s, url := startCanopy(t, text)
	if got := s.LeafPort(); got != leafPort {
		t.Errorf("leafnode listener on %d, want %d", got, leafPort)
	}
	addr := s.ClientAddr().String()

	// The token is enforced: right token in, anything else out.
	nc := connect(t, "nats://s3cr3t@"+addr)
	roundTrip(t, nc)
	for name, opts := range map[string][]nats.Option{
		"wrong token": {nats.Token("S3CR3T")},
		"no token":    nil,
	} {
		_, err := nats.Connect(url, append(opts, nats.Timeout(wait))...)
		checkAuthErr(t, name, err)
	}
	r := dialRaw(t, addr)
	if !strings.Contains(r.info, `"auth_required":true`) {
		t.Errorf("INFO without auth_required: %s", r.info)
	}
	r.send("SUB foo 1\r\n")
	if got := r.closed(); got != "-ERR 'Authorization Violation'\r\n" {
		t.Errorf("SUB before CONNECT: got %q", got)
	}

	// The leafnode port answers with its own INFO.
	l := dialRaw(t, fmt.Sprintf("127.0.0.1:%d", leafPort))
	if !strings.Contains(l.info, `"server_id"`) {
		t.Errorf("leafnode INFO: %s", l.info)
	}
}

// TestTokenAuthorization: authorization { token: "s3cr3t" } is enforced
// the same way by Canopy and nats-server, over raw sockets.
func TestTokenAuthorization(t *testing.T) {
	servers(t, `authorization { token: "s3cr3t" }`, func(t *testing.T, addr string) {
		ok := dialRaw(t, addr)
		ok.connect(`{"verbose":false,"pedantic":false,"auth_token":"s3cr3t"}`)
		ok.send("SUB a 1\r\nPUB a 1\r\nx\r\n")
		if got := ok.flush(); got != "MSG a 1 1\r\nx\r\n" {
			t.Fatalf("authorized client: got %q", got)
		}
		for _, js := range []string{
			`{"verbose":false,"auth_token":"s3cr3"}`,
			`{"verbose":false,"auth_token":""}`,
			`{"verbose":false,"user":"s3cr3t"}`,
			`{"verbose":false,"user":"x","pass":"s3cr3t"}`,
		} {
			bad := dialRaw(t, addr)
			bad.send("CONNECT " + js + "\r\nPING\r\n")
			if got := bad.closed(); got != "-ERR 'Authorization Violation'\r\n" {
				t.Fatalf("%s: got %q", js, got)
			}
		}
	})
}

// TestConfigFile reads a config split over an include file, with a
// variable, and checks that what it sets reaches clients.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	port := natstest.FreePort(t)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Variables are seen in the file that defines them (nats-server's
	// parser reads an include on its own).
	write("auth.conf", "PASS: \"pw\"\nauthorization {\n  user: alice\n  password: $PASS\n  timeout: 1.5\n}\n")
	main := write("main.conf", fmt.Sprintf(`# comments are fine
NAME: hub1
listen: "127.0.0.1:%d"
server_name: $NAME
max_payload: 512KB
max_control_line: 1024
include "auth.conf"
`, port))
	opts, warns, err := conf.Load(main)
	if err != nil || len(warns) > 0 {
		t.Fatalf("load: %v %v", err, warns)
	}
	s := natstest.StartCanopyOpts(t, opts, main)
	if got := s.ClientAddr().String(); got != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("listening on %s", got)
	}
	nc := connect(t, fmt.Sprintf("nats://alice:pw@127.0.0.1:%d", port))
	if got := nc.ConnectedServerName(); got != "hub1" {
		t.Errorf("server name %q", got)
	}
	if got := nc.MaxPayload(); got != 512<<10 {
		t.Errorf("max payload %d", got)
	}
	roundTrip(t, nc)
	_, err = nats.Connect(s.ClientURL(), nats.UserInfo("alice", "nope"), nats.Timeout(wait))
	checkAuthErr(t, "wrong password", err)
	r := dialRaw(t, s.ClientAddr().String())
	r.connect(`{"verbose":false,"user":"alice","pass":"pw"}`)
	r.send("SUB " + strings.Repeat("x", 1030) + " 1\r\n")
	if got := r.closed(); got != "-ERR 'maximum control line exceeded'\r\n" {
		t.Errorf("control line over 1024: got %q", got)
	}
}
