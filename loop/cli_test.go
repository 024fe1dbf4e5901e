package loop_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/nats-io/nats.go"
)

// cli runs the nats CLI against url with a private config home, so no
// user context changes what it does.
func cli(t *testing.T, bin, url string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, append([]string{"--server", url, "--timeout", "5s"}, args...)...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "NATS_CONTEXT=")
	return cmd
}

// TestNatsCLI: the nats CLI publishes, subscribes and makes requests
// through Canopy, with the seed's token authorization.
func TestNatsCLI(t *testing.T) {
	bin := natstest.NATSCLI(t)
	s, _ := startCanopy(t, `authorization { token: "s3cr3t" }`)
	url := "nats://s3cr3t@" + s.ClientAddr().String()
	nc := connect(t, url)

	// nats pub -> nats.go subscriber.
	sub, err := nc.SubscribeSync("cli.pub")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	if out, err := cli(t, bin, url, "pub", "cli.pub", "hello from the cli").CombinedOutput(); err != nil {
		t.Fatalf("nats pub: %v\n%s", err, out)
	}
	if m := next(t, sub); string(m.Data) != "hello from the cli" {
		t.Fatalf("nats pub delivered %q", m.Data)
	}

	// nats request -> nats.go replier, with a header.
	if _, err := nc.Subscribe("cli.svc", func(m *nats.Msg) {
		out := nats.NewMsg(m.Reply)
		out.Data = []byte("answer:" + string(m.Data))
		out.Header.Set("X-Served-By", "canopy-test")
		m.RespondMsg(out)
	}); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	out, err := cli(t, bin, url, "request", "cli.svc", "question", "--raw").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "answer:question" {
		t.Fatalf("nats request: %v\n%s", err, out)
	}

	// A request nobody serves is told so at once (the CLI reports it and
	// exits 0, with nats-server too).
	out, err = cli(t, bin, url, "request", "cli.nobody", "x").CombinedOutput()
	if !strings.Contains(string(out), "No responders are available") {
		t.Fatalf("nats request to nobody: %v\n%s", err, out)
	}

	// nats sub <- nats.go publisher. The CLI prints "Subscribing on" before
	// its SUB has reached the server, and no signal says when it has: keep
	// publishing, a bounded number of times, until the CLI shows one.
	cmd := cli(t, bin, url, "sub", "cli.sub", "--count", "1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// A message goes only after 50 ms without a line: the CLI counts in
	// its handler and may print a message or two that came before it
	// unsubscribed, so only the first one is checked.
	var got []string
	for i, quiet := 0, true; i < 200; i++ {
		if quiet {
			nc.Publish("cli.sub", []byte(fmt.Sprintf("hello-%d", i)))
			flush(t, nc)
		}
		select {
		case l, ok := <-lines:
			if !ok {
				i = 200
				break
			}
			if l = strings.TrimSpace(l); l != "" {
				got = append(got, l)
			}
			quiet = false
		case <-time.After(50 * time.Millisecond):
			quiet = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("nats sub exited with %v; read %q", err, got)
	}
	if len(got) < 3 || !strings.Contains(got[0], "Subscribing on cli.sub") ||
		got[1] != `[#1] Received on "cli.sub"` || !strings.HasPrefix(got[2], "hello-") {
		t.Fatalf("nats sub: read %q", got)
	}

	// A wrong token is refused.
	out, err = cli(t, bin, "nats://nope@"+s.ClientAddr().String(), "pub", "x", "y").CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "authorization violation") {
		t.Fatalf("nats pub with a wrong token: %v\n%s", err, out)
	}
}
