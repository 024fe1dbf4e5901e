package loop_test

import (
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
)

// TestWebsocketJWT: in operator mode a bearer user JWT in the jwt_cookie
// logs a websocket client in without a CONNECT jwt; a user's allowed
// connection types tell websocket from TCP.
func TestWebsocketJWT(t *testing.T) {
	tr := newTrust(t)
	akp, apub := tr.account(t, "A", nil)
	bearer := newUser(t, akp, apub, func(uc *jwt.UserClaims) { uc.BearerToken = true })
	wsOnly := newUser(t, akp, apub, func(uc *jwt.UserClaims) {
		uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeWebsocket)
	})
	tcpOnly := newUser(t, akp, apub, func(uc *jwt.UserClaims) {
		uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard)
	})
	cfg := tr.config(t) + `
listen: "127.0.0.1:-1"
websocket { listen: "127.0.0.1:-1", no_tls: true, jwt_cookie: jwt }
`
	wsServers(t, cfg, func(t *testing.T, ws, tcp string) {
		c := wsDial(t, ws, "Cookie: jwt="+bearer.jwt)
		c.frame(0x82, []byte("CONNECT {\"verbose\":false}\r\nPING\r\n"), true)
		if got := c.text("PONG\r\n"); got != "PONG\r\n" {
			t.Fatalf("cookie JWT: %q", got)
		}
		nc := connect(t, "ws://"+ws, wsOnly.creds(t))
		flush(t, nc)
		if _, err := nats.Connect(tcp, wsOnly.creds(t), nats.NoReconnect()); err == nil {
			t.Fatal("a WEBSOCKET-only user connected over TCP")
		}
		if _, err := nats.Connect("ws://"+ws, tcpOnly.creds(t), nats.NoReconnect()); err == nil {
			t.Fatalf("a STANDARD-only user over websocket: %v", err)
		}
		tc := connect(t, tcp, tcpOnly.creds(t))
		flush(t, tc)
	})
}
