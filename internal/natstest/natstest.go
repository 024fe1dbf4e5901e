// Package natstest starts servers for tests: Canopy in-process, and a real
// nats-server v2.15.2 in-process as the reference peer. Both take their
// configuration as nats-server config text, so one test can run the same
// file on both.
package natstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/logger"
	"github.com/canopy-nats/canopy/loop"
)

// Canopy is a Canopy server started for a test.
type Canopy struct {
	*loop.Server
	ConfigFile string
}

// ClientURL is the nats:// URL clients use.
func (c *Canopy) ClientURL() string { return "nats://" + c.ClientAddr().String() }

// LeafURL is the nats-leaf:// URL of the leafnode listener.
func (c *Canopy) LeafURL() string { return "nats-leaf://" + c.LeafAddr().String() }

// LeafPort is the leafnode listener's port.
func (c *Canopy) LeafPort() int { return c.LeafAddr().(*net.TCPAddr).Port }

// WriteConfig writes config text into a file in the test's temp dir.
func WriteConfig(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// StartCanopy starts Canopy with config text (nats-server format). When the
// text sets no listen/port, it listens on 127.0.0.1 on a free port.
func StartCanopy(t testing.TB, text string) *Canopy {
	t.Helper()
	return StartCanopyLogger(t, text, nil)
}

// StartCanopyOpts starts Canopy with options already built.
func StartCanopyOpts(t testing.TB, opts *conf.Options, path string) *Canopy {
	t.Helper()
	return startCanopy(t, opts, path, nil)
}

// StartCanopyLogger is StartCanopy logging to log (a LogSink, say) from
// the start, at every level; nil is as StartCanopy.
func StartCanopyLogger(t testing.TB, text string, log loop.Logger) *Canopy {
	t.Helper()
	path := WriteConfig(t, "canopy.conf", text)
	opts, _, err := conf.Load(path)
	if err != nil {
		t.Fatalf("canopy config: %v", err)
	}
	// Tests run two event loops unless the text says otherwise, so the
	// cross-loop paths are exercised even where the default would be one.
	if !strings.Contains(text, "loops") {
		opts.Loops = 2
	}
	return startCanopy(t, opts, path, log)
}

func startCanopy(t testing.TB, opts *conf.Options, path string, log loop.Logger) *Canopy {
	t.Helper()
	if opts.Host == "" || opts.Host == conf.DefaultHost {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 || opts.Port == conf.DefaultPort {
		opts.Port = -1
	}
	if opts.Loops == 0 {
		opts.Loops = 2
	}
	if log == nil && os.Getenv("CANOPY_TEST_LOG") != "" {
		log = logger.NewWriter(os.Stderr, logger.Options{Time: true, Debug: true, Trace: true})
	}
	s, err := loop.New(opts, log)
	if err != nil {
		t.Fatalf("canopy: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("canopy start: %v", err)
	}
	c := &Canopy{Server: s, ConfigFile: path}
	t.Cleanup(func() { c.Stop(t) })
	return c
}

// Stop shuts the server down; calling it twice is fine.
func (c *Canopy) Stop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil && err != loop.ErrNotRunning {
		t.Errorf("canopy shutdown: %v", err)
	}
}

// NATS is a real nats-server v2.15.2 started for a test.
type NATS struct {
	*server.Server
	ConfigFile string
	opts       *server.Options
}

// StartNATS starts nats-server in-process with config text. Without
// listen/port in the text it listens on 127.0.0.1 on a free port.
func StartNATS(t testing.TB, text string) *NATS {
	t.Helper()
	return StartNATSLogger(t, text, nil)
}

// StartNATSLogger is StartNATS with a logger of the test's, set before the
// server starts so that nothing it says is missed (nil: quiet, or stderr
// with NATS_TEST_LOG set).
func StartNATSLogger(t testing.TB, text string, log server.Logger) *NATS {
	t.Helper()
	path := WriteConfig(t, "nats.conf", text)
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server config: %v", err)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = -1
	}
	opts.NoSigs = true
	if log == nil && os.Getenv("NATS_TEST_LOG") == "" {
		opts.NoLog = true
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	switch {
	case log != nil:
		// The configuration's debug and trace settings hold for the
		// test's logger too.
		s.SetLogger(log, opts.Debug, opts.Trace)
	case os.Getenv("NATS_TEST_LOG") != "":
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server did not start")
	}
	n := &NATS{Server: s, ConfigFile: path, opts: opts}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return n
}

// Opts are the options the server runs with.
func (n *NATS) Opts() *server.Options { return n.opts }

// LeafPort is the nats-server leafnode listener's port (nats-server writes
// the port it bound back into its options when the config says -1).
func (n *NATS) LeafPort() int { return n.opts.LeafNode.Port }

// LeafURL is the nats-leaf:// URL of the nats-server leafnode listener.
func (n *NATS) LeafURL() string { return fmt.Sprintf("nats-leaf://127.0.0.1:%d", n.LeafPort()) }

// FreePort returns a port nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Connect opens a nats.go connection and closes it when the test ends.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.Timeout(5 * time.Second), nats.MaxReconnects(-1)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// WaitFor polls cond every 10 ms until it holds or timeout passes; it is for
// state that has no event to wait on (a leaf link coming up on the far
// side). It fails the test with what on timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WSHostPort is the Canopy websocket listener's host:port.
func (c *Canopy) WSHostPort() string { return c.WebsocketAddr().String() }

// WebsocketPort is the nats-server websocket listener's port (written back
// into its options when the config says -1).
func (n *NATS) WebsocketPort() int { return n.opts.Websocket.Port }
