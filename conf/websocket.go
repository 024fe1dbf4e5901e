package conf

import (
	"net/url"
	"strings"
	"time"
)

// Websocket is the websocket block: a listener that serves the client
// protocol (and leaf links, on the path /leafnode) inside websocket
// frames after an HTTP/1.1 upgrade, as nats-server's websocket.go.
type Websocket struct {
	Host      string
	Port      int // 0: no websocket listener; -1 a random port
	Advertise string
	// NoTLS must be set to run without a tls block: nats-server refuses a
	// plaintext websocket listener otherwise.
	NoTLS bool
	TLS   *TLS

	SameOrigin     bool
	AllowedOrigins []string
	// Compression offers permessage-deflate to clients that ask for it.
	Compression      bool
	HandshakeTimeout time.Duration // 0: none beyond the auth timeout

	// Cookies whose values stand in for the CONNECT credentials a client
	// leaves out.
	JWTCookie      string
	UsernameCookie string
	PasswordCookie string
	TokenCookie    string

	// The block's own authorization: when any of Username, Token or
	// NoAuthUser is set, websocket clients use these instead of the
	// top-level single user, token and no_auth_user (users lists still
	// apply), as nats-server's auth override.
	NoAuthUser  string
	Username    string
	Password    string
	Token       string
	AuthTimeout time.Duration

	// PingInterval replaces ping_interval for websocket clients; 0: the
	// server's.
	PingInterval time.Duration

	// Headers are added to the upgrade response.
	Headers map[string]string
}

// AuthOverride reports whether the block's authorization replaces the
// top-level one for websocket clients.
func (w *Websocket) AuthOverride() bool {
	return w.Username != "" || w.Token != "" || w.NoAuthUser != ""
}

// websocket maps the websocket block (nats-server parseWebsocket).
func (l *loader) websocket(n node) {
	m, ok := l.mapOf(n)
	if !ok {
		return
	}
	ws := &l.opts.Websocket
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "listen":
			l.setListen(e, &ws.Host, &ws.Port)
		case "port":
			if p, ok := l.port(e); ok {
				ws.Port = p
			}
		case "host", "net":
			l.setString(e, &ws.Host)
		case "advertise":
			l.setString(e, &ws.Advertise)
		case "no_tls":
			l.setBool(e, &ws.NoTLS)
		case "tls":
			ws.TLS = l.tlsBlock(e, false)
		case "same_origin":
			l.setBool(e, &ws.SameOrigin)
		case "allowed_origins", "allowed_origin", "allow_origins", "allow_origin", "origins", "origin":
			if list, ok := l.stringList(e); ok {
				ws.AllowedOrigins = list
			}
		case "handshake_timeout":
			l.setDuration(e, &ws.HandshakeTimeout)
		case "compress", "compression":
			l.setBool(e, &ws.Compression)
		case "authorization", "authentication":
			l.websocketAuth(e)
		case "jwt_cookie":
			l.setString(e, &ws.JWTCookie)
		case "user_cookie":
			l.setString(e, &ws.UsernameCookie)
		case "pass_cookie":
			l.setString(e, &ws.PasswordCookie)
		case "token_cookie":
			l.setString(e, &ws.TokenCookie)
		case "no_auth_user":
			l.setString(e, &ws.NoAuthUser)
		case "headers":
			hm, ok := l.mapOf(e)
			if !ok {
				continue
			}
			ws.Headers = make(map[string]string, len(hm))
			for _, h := range entries(e, hm) {
				if v, ok := l.str(h); ok {
					ws.Headers[h.key] = v
				}
			}
		case "ping_interval":
			l.setDuration(e, &ws.PingInterval)
		default:
			l.unknown(e)
		}
	}
	l.checkWebsocket(n)
}

// websocketAuth is the block's authorization: a single user or a token,
// and a timeout (nats-server parseSimpleAuth).
func (l *loader) websocketAuth(n node) {
	m, ok := l.mapOf(n)
	if !ok {
		return
	}
	ws := &l.opts.Websocket
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "user", "username":
			l.setString(e, &ws.Username)
		case "pass", "password":
			l.setString(e, &ws.Password)
		case "token":
			l.setString(e, &ws.Token)
		case "timeout":
			if d, ok := l.authTimeout(e); ok {
				ws.AuthTimeout = d
			}
		default:
			l.unknown(e)
		}
	}
}

// checkWebsocket is nats-server validateWebsocketOptions, for what can be
// told from the block alone; the no_auth_user and users checks need the
// whole file (see finishWebsocket).
func (l *loader) checkWebsocket(n node) {
	ws := &l.opts.Websocket
	if ws.Port == 0 {
		return
	}
	if ws.TLS == nil && !ws.NoTLS {
		l.errAt(n, "websocket requires TLS configuration")
		return
	}
	for _, ao := range ws.AllowedOrigins {
		u, err := url.ParseRequestURI(ao)
		switch {
		case err != nil:
			l.errAt(n, "unable to parse allowed origin: %v", err)
		case u.Scheme != "http" && u.Scheme != "https":
			l.errAt(n, "unable to parse allowed origin %q: allowed origins must be absolute URLs with http or https scheme", ao)
		case u.Host == "":
			l.errAt(n, "unable to parse allowed origin %q: host is required", ao)
		}
	}
	for k := range ws.Headers {
		lk := strings.ToLower(k)
		switch {
		case lk == "host", lk == "content-length", lk == "connection", lk == "upgrade", lk == "nats-no-masking":
			l.errAt(n, "websocket: invalid header %q not allowed", k)
		case strings.HasPrefix(lk, "sec-websocket-"):
			l.errAt(n, "websocket: invalid header %q, \"Sec-WebSocket-\" prefix not allowed", k)
		}
	}
}
