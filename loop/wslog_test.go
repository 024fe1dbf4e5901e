package loop_test

import (
	"context"
	"strings"
	"testing"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/logger"
	"github.com/canopy-nats/canopy/loop"
)

// TestWebsocketLogName: a websocket client is named wid: in the log, with
// the address X-Forwarded-For gave in front of the socket's, as
// nats-server names it.
func TestWebsocketLogName(t *testing.T) {
	var out syncBuffer
	opts := &conf.Options{Host: "127.0.0.1", Port: -1, Trace: true, Loops: 1,
		Websocket: conf.Websocket{Host: "127.0.0.1", Port: -1, NoTLS: true}}
	s, err := loop.New(opts, logger.NewWriter(&out, logger.Options{Trace: true}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c := wsDial(t, s.WebsocketAddr().String(), "X-Forwarded-For: 203.0.113.7")
	c.frame(0x82, []byte("CONNECT {\"verbose\":false}\r\nPING\r\n"), true)
	c.text("PONG\r\n")
	log := out.String()
	if !strings.Contains(log, "203.0.113.7/127.0.0.1:") || !strings.Contains(log, " - wid:") {
		t.Fatalf("log:\n%s", log)
	}
}
