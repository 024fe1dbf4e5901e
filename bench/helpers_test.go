package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// runServer starts an in-process nats-server on a free 127.0.0.1 port and
// stops it when the test ends. edit may adjust the options first.
func runServer(t *testing.T, edit func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	if edit != nil {
		edit(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// runLeafPair starts a hub with a leafnode port and a leaf server that
// solicits it.
func runLeafPair(t *testing.T) (hub, leaf *server.Server) {
	t.Helper()
	port := freePort(t)
	hub = runServer(t, func(o *server.Options) {
		o.LeafNode.Host = "127.0.0.1"
		o.LeafNode.Port = port
	})
	u, err := url.Parse(fmt.Sprintf("nats-leaf://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	leaf = runServer(t, func(o *server.Options) {
		o.LeafNode.Remotes = []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}
	})
	return hub, leaf
}

// freePort returns a 127.0.0.1 port that was free a moment ago. The server
// options take a port number, and this server version does not report the
// leafnode port it picked for -1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// quick are options small enough for a test: they finish in well under a
// second against an in-process server.
func quick(url string, s Scenario) Options {
	return Options{Scenario: s, URL: url, Count: 2000, Size: 64, Timeout: 5 * time.Second}
}

func mustRun(t *testing.T, o Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("%s run failed: %v", o.Scenario, err)
	}
	if !res.OK {
		t.Fatalf("%s result not OK: %v", o.Scenario, res.Errors)
	}
	return res
}

func mustFailIntegrity(t *testing.T, o Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), o)
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("want an integrity failure, got %v", err)
	}
	if res.OK {
		t.Fatal("failed run reported OK")
	}
	return res
}
