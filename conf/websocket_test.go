package conf

import (
	"strings"
	"testing"
	"time"
)

// TestWebsocketBlock reads every key of the websocket block, and a leaf
// remote's ws:// URL with its websocket settings.
func TestWebsocketBlock(t *testing.T) {
	data := `
websocket {
  listen: "127.0.0.1:-1"
  no_tls: true
  same_origin: true
  allowed_origins: ["http://a.example:8080", "https://b.example"]
  compression: true
  handshake_timeout: "2s"
  jwt_cookie: jc
  user_cookie: uc
  pass_cookie: pc
  token_cookie: tc
  authorization { user: wu, password: wp, timeout: 3 }
  headers { X-Test: "v1" }
}
leafnodes {
  remotes: [ { url: "ws://hub/some/path", ws_compression: true, ws_no_masking: true },
             { url: "wss://hub2" } ]
}
`
	o, _, err := Parse([]byte(data), "ws.conf")
	if err != nil {
		t.Fatal(err)
	}
	w := o.Websocket
	if w.Host != "127.0.0.1" || w.Port != -1 || !w.NoTLS || !w.SameOrigin || !w.Compression {
		t.Fatalf("websocket = %+v", w)
	}
	if len(w.AllowedOrigins) != 2 || w.HandshakeTimeout != 2*time.Second {
		t.Fatalf("origins %v timeout %v", w.AllowedOrigins, w.HandshakeTimeout)
	}
	if w.JWTCookie != "jc" || w.UsernameCookie != "uc" || w.PasswordCookie != "pc" || w.TokenCookie != "tc" {
		t.Fatalf("cookies %+v", w)
	}
	if w.Username != "wu" || w.Password != "wp" || w.AuthTimeout != 3*time.Second || !w.AuthOverride() {
		t.Fatalf("auth %+v", w)
	}
	if w.Headers["X-Test"] != "v1" {
		t.Fatalf("headers %v", w.Headers)
	}
	r := o.LeafNode.Remotes
	if len(r) != 2 || r[0].URLs[0].Host != "hub:80" || r[0].URLs[0].Path != "/some/path" || !r[0].WSCompression || !r[0].WSNoMasking {
		t.Fatalf("remote 0 = %+v %v", r[0], r[0].URLs[0])
	}
	if r[1].URLs[0].Host != "hub2:443" || r[1].TLS == nil {
		t.Fatalf("remote 1 = %+v", r[1])
	}
}

// TestWebsocketNoAuthUser: the block's no_auth_user must be a user.
func TestWebsocketNoAuthUser(t *testing.T) {
	_, _, err := Parse([]byte(`
authorization { users: [ { user: a, password: b } ] }
websocket { port: -1, no_tls: true, no_auth_user: nobody }
`), "x.conf")
	if err == nil {
		t.Fatal("no error for an unknown websocket no_auth_user")
	}
}

// TestWebsocketRemoteMix: one remote cannot mix websocket and other URLs.
func TestWebsocketRemoteMix(t *testing.T) {
	_, _, err := Parse([]byte(`leafnodes { remotes: [ { urls: ["ws://a:80", "nats-leaf://b:7422"] } ] }`), "x.conf")
	if err == nil || !strings.Contains(err.Error(), "cannot have a mix of websocket and non-websocket urls") {
		t.Fatalf("err = %v", err)
	}
}
