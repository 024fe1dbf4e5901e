package monitor_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/monitor"
)

// TestWebsocketMonitoring: /varz has the websocket block, /connz types a
// websocket client as nats-server does.
func TestWebsocketMonitoring(t *testing.T) {
	c := natstest.StartCanopy(t, `
listen: "127.0.0.1:-1"
websocket { listen: "127.0.0.1:-1", no_tls: true, compression: true, handshake_timeout: "3s" }
`)
	url := startMonitor(t, c)
	var v monitor.Varz
	getJSON(t, url+"/varz", &v)
	ws := v.Websocket
	if ws.Host != "127.0.0.1" || ws.Port == 0 ||
		!ws.NoTLS || !ws.Compression || ws.HandshakeTimeout != 3*time.Second {
		t.Fatalf("varz websocket %+v", ws)
	}
	nc := natstest.Connect(t, "ws://"+c.WSHostPort(), nats.Name("w"))
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var cz monitor.Connz
	getJSON(t, url+"/connz", &cz)
	if len(cz.Conns) != 1 || cz.Conns[0].Type != "websocket" || cz.Conns[0].Kind != "Client" {
		t.Fatalf("connz %+v", cz.Conns)
	}
}
