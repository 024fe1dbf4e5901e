package leaf

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/canopy-nats/canopy/conf"
)

// Host is what a Remote needs from the server that runs it.
type Host interface {
	// Enroll hands an established connection to the event loops, which
	// run the link from then on and call r.Closed when it ends.
	Enroll(conn net.Conn, r *Remote) error
	Noticef(format string, v ...any)
	Errorf(format string, v ...any)
	Debugf(format string, v ...any)
}

// Extra delays before re-dialling, after the hub told us why it closed.
const (
	LoopDelay        = 30 * time.Second
	SameClusterDelay = 30 * time.Second
	MinVersionDelay  = 5 * time.Second
	// PermViolationDelay follows a link this server dialled as the hub and
	// closed because the peer broke its permissions.
	PermViolationDelay = 30 * time.Second
	// neverConnectedReport is how often a remote that never connected logs
	// its failures, as nats-server does.
	neverConnectedReport = 3600
)

// Remote is the running state of one remotes entry.
type Remote struct {
	cfg    *conf.Remote
	dial   time.Duration
	wait   time.Duration
	signer signer

	mu         sync.Mutex
	urls       []*url.URL // configured, in try order
	discovered []*url.URL
	next       int
	current    *url.URL
	delay      time.Duration // one-shot extra delay before the next dial
	closed     chan struct{} // closed when the current link ends
	connected  bool          // a link has been established at least once
	up         bool          // a link is up now
}

// NewRemote prepares a remote from its configuration and the leafnodes
// block's reconnect and dial settings.
func NewRemote(cfg *conf.Remote, ln *conf.LeafNode) (*Remote, error) {
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("leaf: remote has no url")
	}
	r := &Remote{cfg: cfg, dial: ln.DialTimeout, wait: ln.ReconnectInterval}
	if r.dial <= 0 {
		r.dial = conf.DefaultLeafDial
	}
	if r.wait <= 0 {
		r.wait = conf.DefaultLeafReconnect
	}
	r.urls = append(r.urls, cfg.URLs...)
	if !cfg.NoRandomize {
		rand.Shuffle(len(r.urls), func(i, j int) { r.urls[i], r.urls[j] = r.urls[j], r.urls[i] })
	}
	switch {
	case cfg.Credentials != "":
		if err := checkCreds(cfg.Credentials); err != nil {
			return nil, err
		}
		r.signer = credsFile{cfg.Credentials}
	case cfg.Seed != "":
		r.signer = seedKey{cfg.Seed}
	}
	return r, nil
}

// Config is the remote's configuration.
func (r *Remote) Config() *conf.Remote { return r.cfg }

// Account is the local account the link binds to.
func (r *Remote) Account() string {
	if r.cfg.LocalAccount == "" {
		return conf.GlobalAccount
	}
	return r.cfg.LocalAccount
}

// URL is the URL of the link being made or up now.
func (r *Remote) URL() *url.URL {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

// Up reports whether a link is established now.
func (r *Remote) Up() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.up
}

// Redact shows a URL without its password or token.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = url.User("xxxxx")
	if _, ok := u.User.Password(); ok {
		c.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return c.String()
}

// nextURL picks the URL to dial: configured and discovered in turn.
func (r *Remote) nextURL() *url.URL {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := len(r.urls) + len(r.discovered)
	i := r.next % all
	r.next++
	if i < len(r.urls) {
		r.current = r.urls[i]
	} else {
		r.current = r.discovered[i-len(r.urls)]
	}
	return r.current
}

// Discovered replaces the URLs learned from the hub's leafnode_urls. They
// borrow the user info of the configured URL, as nats-server does.
func (r *Remote) Discovered(hostports []string) {
	if r.cfg.IgnoreDiscovered {
		return
	}
	if len(r.urls) > 0 && (r.urls[0].Scheme == "ws" || r.urls[0].Scheme == "wss") {
		// A websocket remote would learn websocket URLs (ws_connect_urls),
		// which Canopy's hubs do not send; the leafnode port's are not for
		// it.
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	known := make(map[string]bool, len(r.urls))
	for _, u := range r.urls {
		known[u.Host] = true
	}
	var user *url.Userinfo
	if len(r.urls) > 0 {
		user = r.urls[0].User
	}
	r.discovered = r.discovered[:0]
	for _, hp := range hostports {
		if known[hp] {
			continue
		}
		known[hp] = true
		r.discovered = append(r.discovered, &url.URL{Scheme: "nats-leaf", Host: hp, User: user})
	}
}

// DelayNext makes the next dial wait d more (the hub reported a loop, a
// same-cluster name or a version refusal).
func (r *Remote) DelayNext(d time.Duration) {
	r.mu.Lock()
	if d > r.delay {
		r.delay = d
	}
	r.mu.Unlock()
}

// Closed tells the dialling loop that the current link ended.
func (r *Remote) Closed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.up = false
	if r.closed != nil {
		close(r.closed)
		r.closed = nil
	}
}

// Established records that the link's handshake completed.
func (r *Remote) Established() {
	r.mu.Lock()
	r.up = true
	r.connected = true
	r.mu.Unlock()
}

// FillConnect completes the CONNECT for this remote: credentials for the
// hub's nonce, user info from the URL, and what the remote asks of the hub.
func (r *Remote) FillConnect(c *Connect, nonce string) error {
	if r.signer != nil {
		if err := r.signer.sign(c, nonce); err != nil {
			return err
		}
	}
	if u := r.URL(); u != nil && u.User != nil {
		c.User = u.User.Username()
		pass, ok := u.User.Password()
		if ok {
			c.Pass = pass
		} else {
			// A URL with only a user name carries a token, and nats-server
			// sends it both ways so either kind of hub understands it.
			c.Token = c.User
		}
	}
	c.Hub = r.cfg.Hub
	c.DenyPub = r.cfg.DenyImports
	c.Isolate = r.cfg.RequestIsolation
	c.RemoteAccount = r.Account()
	return nil
}

// Run dials the remote until ctx ends, one link at a time: after a failed
// dial it waits the reconnect interval plus jitter and tries the next URL;
// after a link ends it waits the reconnect interval (plus any delay the
// hub asked for) and dials again.
func (r *Remote) Run(ctx context.Context, h Host) {
	if r.cfg.Disabled {
		return
	}
	attempts := 0
	d := net.Dialer{Timeout: r.dial}
	for ctx.Err() == nil {
		r.mu.Lock()
		extra := r.delay
		r.delay = 0
		r.mu.Unlock()
		if extra > 0 && !sleep(ctx, extra) {
			return
		}
		u := r.nextURL()
		conn, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			attempts++
			r.mu.Lock()
			report := r.connected || attempts == 1 || attempts%neverConnectedReport == 0
			r.mu.Unlock()
			if report {
				h.Errorf("Error trying to connect as leafnode to remote server %q (attempt %d): %v", u.Host, attempts, err)
			}
			if !sleep(ctx, r.wait+rand.N(r.wait)) {
				return
			}
			continue
		}
		attempts = 0
		done := make(chan struct{})
		r.mu.Lock()
		r.closed = done
		r.mu.Unlock()
		if err := h.Enroll(conn, r); err != nil {
			conn.Close()
			h.Errorf("Error registering leafnode connection to %q: %v", u.Host, err)
			r.Closed()
		}
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
		if !sleep(ctx, r.wait) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Host is shown in log lines ("Connected leafnode to "host"").
func hostOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return strings.TrimSuffix(u.Hostname(), ".")
}

// HostName is the host part of the URL in use, for log lines.
func (r *Remote) HostName() string { return hostOf(r.URL()) }
