package monitor_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// runCLI runs natscli as the system user against url, with a private
// home so no saved context applies, and returns what it printed.
func runCLI(t *testing.T, bin, url string, d time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	all := append([]string{"--server", url, "--user", "sys", "--password", "pass", "--timeout", "3s"}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "NATS_CONTEXT=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var cliLabel = regexp.MustCompile(`(?m)^\s*([A-Z][A-Za-z /]+):`)

// labels are the "Label:" names a natscli report prints, in order.
func labels(out string) []string {
	var l []string
	for _, m := range cliLabel.FindAllStringSubmatch(out, -1) {
		l = append(l, strings.TrimSpace(m[1]))
	}
	return l
}

// TestSysNatsCLI runs natscli's system account commands against Canopy and
// nats-server with the same config: each must succeed on both, and the
// reports must have the same fields.
func TestSysNatsCLI(t *testing.T) {
	bin := natstest.NATSCLI(t)
	type run struct {
		out string
		err error
	}
	results := map[string]map[string]run{}
	commands := [][]string{
		{"server", "ping", "1"},
		{"server", "info"},
		{"server", "list"},
		{"server", "report", "connections"},
		{"server", "report", "accounts"},
		{"server", "report", "health"},
		{"server", "request", "variables"},
		{"server", "request", "connections"},
		{"server", "request", "subscriptions"},
		{"server", "request", "accounts"},
		{"server", "request", "leafnodes"},
		{"server", "report", "leafnodes"},
		{"account", "info"},
	}
	sysServers(t, sysConf, func(t *testing.T, url, id string) {
		app := natstest.Connect(t, url, nats.UserInfo("app", "pass"))
		flush(t, app)
		got := map[string]run{}
		for _, c := range commands {
			out, err := runCLI(t, bin, url, 20*time.Second, c...)
			if err != nil {
				t.Errorf("nats %s: %v\n%s", strings.Join(c, " "), err, out)
			}
			got[strings.Join(c, " ")] = run{out, err}
		}
		out, err := runCLI(t, bin, url, 20*time.Second, "server", "check", "server", "--name", id)
		if err != nil || !strings.HasPrefix(out, "OK") {
			t.Errorf("nats server check server: %v\n%s", err, out)
		}
		name := t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]
		results[name] = got
		if !strings.Contains(got["server list"].out, id) {
			t.Errorf("server list does not show %s:\n%s", id, got["server list"].out)
		}
		if !strings.Contains(got["server ping 1"].out, "1 replies") {
			t.Errorf("server ping:\n%s", got["server ping 1"].out)
		}
	})
	c, n := results["canopy"], results["nats-server"]
	if c == nil || n == nil {
		return
	}
	for _, cmd := range []string{"server info", "account info"} {
		if lc, ln := labels(c[cmd].out), labels(n[cmd].out); !slices.Equal(lc, ln) {
			t.Errorf("nats %s: fields differ\n canopy      %q\n nats-server %q", cmd, lc, ln)
		}
	}
}

// TestSysNatsEvents: `nats events` shows a client's connection and
// disconnection and a failed login, on both servers.
func TestSysNatsEvents(t *testing.T) {
	bin := natstest.NATSCLI(t)
	sysServers(t, sysConf, func(t *testing.T, url, id string) {
		done := make(chan string, 1)
		go func() {
			out, _ := runCLI(t, bin, url, 3*time.Second, "events")
			done <- out
		}()
		// natscli subscribes soon after it starts; the system user's
		// own subscription shows when it has.
		nc := natstest.Connect(t, url, nats.UserInfo("sys", "pass"))
		natstest.WaitFor(t, 10*time.Second, "natscli subscribed", func() bool {
			m, err := nc.Request("$SYS.REQ.SERVER.PING.CONNZ", []byte(`{"subscriptions":true}`), time.Second)
			return err == nil && strings.Contains(string(m.Data), "$SYS.ACCOUNT.*.CONNECT")
		})
		app := natstest.Connect(t, url, nats.UserInfo("app", "pass"))
		flush(t, app)
		app.Close()
		if bad, err := nats.Connect(url, nats.UserInfo("app", "wrong"), nats.NoReconnect()); err == nil {
			bad.Close()
		}
		var out string
		select {
		case out = <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("nats events did not end")
		}
		for _, want := range []string{"Client Connection", "Client Disconnection", "Reason: Client Closed", "Reason: Authentication Failure"} {
			if !strings.Contains(out, want) {
				t.Errorf("nats events shows no %q:\n%s", want, out)
			}
		}
	})
}
