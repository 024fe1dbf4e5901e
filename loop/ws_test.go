package loop_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// wsServers runs fn against Canopy and nats-server started from the same
// config, with each one's websocket host:port and client URL.
func wsServers(t *testing.T, config string, fn func(t *testing.T, ws, tcp string)) {
	t.Helper()
	t.Run("canopy", func(t *testing.T) {
		s := natstest.StartCanopy(t, config)
		fn(t, s.WSHostPort(), s.ClientURL())
	})
	t.Run("nats-server", func(t *testing.T) {
		s := natstest.StartNATS(t, config)
		fn(t, "127.0.0.1:"+strconv.Itoa(s.WebsocketPort()), s.ClientURL())
	})
}

const wsPlain = `
listen: "127.0.0.1:-1"
max_payload: 4MB
websocket { listen: "127.0.0.1:-1", no_tls: true }
`

// TestWebsocketPubSub: websocket and TCP clients publish to and request
// from each other, with headers and a 1 MiB payload, with permessage-
// deflate off and on.
func TestWebsocketPubSub(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compression=%v", compress), func(t *testing.T) {
			cfg := wsPlain
			if compress {
				cfg = strings.Replace(cfg, "no_tls: true", "no_tls: true, compression: true", 1)
			}
			wsServers(t, cfg, func(t *testing.T, ws, tcp string) {
				wc := connect(t, "ws://"+ws, nats.Compression(compress))
				tc := connect(t, tcp)
				wsub, err := wc.SubscribeSync("to.ws")
				if err != nil {
					t.Fatal(err)
				}
				tsub, err := tc.SubscribeSync("to.tcp")
				if err != nil {
					t.Fatal(err)
				}
				flush(t, wc)
				flush(t, tc)
				if err := tc.Publish("to.ws", []byte("hello ws")); err != nil {
					t.Fatal(err)
				}
				if m := next(t, wsub); string(m.Data) != "hello ws" {
					t.Fatalf("ws got %q", m.Data)
				}
				if err := wc.Publish("to.tcp", []byte("hello tcp")); err != nil {
					t.Fatal(err)
				}
				if m := next(t, tsub); string(m.Data) != "hello tcp" {
					t.Fatalf("tcp got %q", m.Data)
				}
				// Headers both ways.
				hm := nats.NewMsg("to.tcp")
				hm.Header.Set("X-K", "v1")
				hm.Data = []byte("h")
				if err := wc.PublishMsg(hm); err != nil {
					t.Fatal(err)
				}
				if m := next(t, tsub); m.Header.Get("X-K") != "v1" || string(m.Data) != "h" {
					t.Fatalf("tcp got %v %q", m.Header, m.Data)
				}
				// A 1 MiB payload, both ways.
				big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
				if err := tc.Publish("to.ws", big); err != nil {
					t.Fatal(err)
				}
				if m := next(t, wsub); !bytes.Equal(m.Data, big) {
					t.Fatalf("ws got %d bytes", len(m.Data))
				}
				if err := wc.Publish("to.tcp", big); err != nil {
					t.Fatal(err)
				}
				if m := next(t, tsub); !bytes.Equal(m.Data, big) {
					t.Fatalf("tcp got %d bytes", len(m.Data))
				}
				// Request/reply, each side serving the other.
				if _, err := wc.Subscribe("svc.ws", func(m *nats.Msg) { _ = m.Respond(append([]byte("ws:"), m.Data...)) }); err != nil {
					t.Fatal(err)
				}
				if _, err := tc.Subscribe("svc.tcp", func(m *nats.Msg) { _ = m.Respond(append([]byte("tcp:"), m.Data...)) }); err != nil {
					t.Fatal(err)
				}
				flush(t, wc)
				flush(t, tc)
				for i := 0; i < 50; i++ {
					r, err := tc.Request("svc.ws", []byte(strconv.Itoa(i)), wait)
					if err != nil || string(r.Data) != "ws:"+strconv.Itoa(i) {
						t.Fatalf("request to ws: %v %v", r, err)
					}
					r, err = wc.Request("svc.tcp", []byte(strconv.Itoa(i)), wait)
					if err != nil || string(r.Data) != "tcp:"+strconv.Itoa(i) {
						t.Fatalf("request to tcp: %v %v", r, err)
					}
				}
				// Many messages in a burst keep their order.
				for i := 0; i < 2000; i++ {
					if err := tc.Publish("to.ws", []byte(strconv.Itoa(i))); err != nil {
						t.Fatal(err)
					}
				}
				for i := 0; i < 2000; i++ {
					if m := next(t, wsub); string(m.Data) != strconv.Itoa(i) {
						t.Fatalf("message %d: %q", i, m.Data)
					}
				}
			})
		})
	}
}

var _ = time.Second
