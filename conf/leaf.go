package conf

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

// leafnodes maps the leafnodes block.
func (l *loader) leafnodes(n node) {
	m, ok := l.mapOf(n)
	if !ok {
		return
	}
	ln := &l.opts.LeafNode
	for _, e := range entries(n, m) {
		key := strings.ToLower(e.key)
		l.mark("leafnodes."+canonicalLeaf(key), e)
		switch key {
		case "listen":
			l.setListen(e, &ln.Host, &ln.Port)
		case "port":
			if p, ok := l.port(e); ok {
				ln.Port = p
			}
		case "host", "net":
			l.setString(e, &ln.Host)
		case "authorization":
			l.leafAuthorization(e)
		case "remotes":
			ln.Remotes = l.remotes(e)
		case "reconnect", "reconnect_delay", "reconnect_interval":
			l.setDuration(e, &ln.ReconnectInterval)
		case "dial_timeout":
			l.setDuration(e, &ln.DialTimeout)
		case "advertise", "leafnode_advertise":
			l.setString(e, &ln.Advertise)
		case "no_advertise":
			l.setBool(e, &ln.NoAdvertise)
		case "min_version", "minimum_version":
			if s, ok := l.str(e); ok {
				if err := checkMinVersion(s); err != "" {
					l.invalid(e, "%s", err)
					continue
				}
				ln.MinVersion = s
			}
		case "compression":
			if c, ok := l.compression(e, &ln.CompressionRTT); ok {
				ln.Compression = c
			}
		case "isolate_leafnode_interest", "isolate":
			l.setBool(e, &ln.Isolate)
		case "tls":
			ln.TLS = l.tlsBlock(e, false)
		case "write_deadline", "write_timeout":
			l.unsupported(e)
		default:
			l.unknown(e)
		}
	}
}

func canonicalLeaf(key string) string {
	switch key {
	case "net":
		return "host"
	case "reconnect_delay", "reconnect_interval":
		return "reconnect"
	case "leafnode_advertise":
		return "advertise"
	case "minimum_version":
		return "min_version"
	case "isolate":
		return "isolate_leafnode_interest"
	}
	return key
}

// leafAuthorization maps leafnodes.authorization, the accepting side's
// credentials. Unlike the client block it has no token.
func (l *loader) leafAuthorization(n node) {
	m, ok := l.mapOf(n)
	if !ok {
		return
	}
	ln := &l.opts.LeafNode
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "user", "username":
			l.setString(e, &ln.Username)
		case "pass", "password":
			l.setString(e, &ln.Password)
		case "account":
			l.setString(e, &ln.Account)
		case "nkey":
			if s, ok := l.str(e); ok {
				if !nkeys.IsValidPublicUserKey(s) {
					l.invalid(e, "%q is not a valid public user nkey", s)
					continue
				}
				ln.Nkey = s
			}
		case "timeout":
			if d, ok := l.authTimeout(e); ok {
				ln.AuthTimeout = d
			}
		case "users":
			l.mark("leafnodes.authorization.users", e)
			ln.Users = l.users(e, true)
		case "proxy_required":
			l.refuseIfTrue(e, "leafnodes cannot be required to come through a proxy")
		case "token":
			if !e.tk.IsUsedVariable() {
				l.errAt(e, "unknown field %q: leafnode authorization takes user and password, an nkey or users, not a token", e.key)
			}
		default:
			l.unknown(e)
		}
	}
}

// remotes reads leafnodes.remotes, the systems this server dials.
func (l *loader) remotes(n node) []*Remote {
	elems, ok := l.arrayOf(n)
	if !ok {
		return nil
	}
	out := make([]*Remote, 0, len(elems))
	for _, el := range elems {
		m, ok := el.v.(map[string]any)
		if !ok {
			l.invalid(el, "expected a remote (a map), got %s", describe(el.v))
			continue
		}
		if r := l.remote(el, m); r != nil {
			out = append(out, r)
		}
	}
	return out
}

func (l *loader) remote(el node, m map[string]any) *Remote {
	r := &Remote{}
	var creds, seed node
	for _, e := range entries(el, m) {
		switch strings.ToLower(e.key) {
		case "url", "urls":
			r.URLs = append(r.URLs, l.remoteURLs(e)...)
		case "account", "local":
			l.setString(e, &r.LocalAccount)
		case "credentials", "creds":
			if s, ok := l.str(e); ok {
				p, err := expandPath(s)
				if err != nil {
					l.invalid(e, "%v", err)
					continue
				}
				r.Credentials, creds = p, e
			}
		case "nkey", "seed":
			if s, ok := l.str(e); ok {
				// The seed is a secret: never echo it.
				if pre, _, err := nkeys.DecodeSeed([]byte(s)); err != nil || pre != nkeys.PrefixByteUser {
					l.invalid(e, "not a valid user nkey seed")
					continue
				}
				r.Seed, seed = s, e
			}
		case "deny_imports", "deny_import":
			r.DenyImports = l.subjects(e, false)
		case "deny_exports", "deny_export":
			r.DenyExports = l.subjects(e, false)
		case "hub":
			l.setBool(e, &r.Hub)
		case "compression":
			if c, ok := l.compression(e, &r.CompressionRTT); ok {
				r.Compression = c
			}
		case "first_info_timeout":
			l.setDuration(e, &r.FirstInfoTimeout)
		case "dial_timeout":
			l.setDuration(e, &r.DialTimeout)
		case "no_randomize", "dont_randomize":
			l.setBool(e, &r.NoRandomize)
		case "ignore_discovered_servers":
			l.setBool(e, &r.IgnoreDiscovered)
		case "isolate_leafnode_interest", "isolate":
			l.setBool(e, &r.Isolate)
		case "request_isolation":
			l.setBool(e, &r.RequestIsolation)
		case "disabled":
			l.setBool(e, &r.Disabled)
		case "tls":
			r.TLS = l.tlsBlock(e, true)
		case "ws_compress", "ws_compression", "websocket_compress", "websocket_compression":
			l.setBool(e, &r.WSCompression)
		case "ws_no_masking", "websocket_no_masking":
			l.setBool(e, &r.WSNoMasking)
		case "jetstream_cluster_migrate",
			"js_cluster_migrate", "proxy":
			l.unsupported(e)
		default:
			l.unknown(e)
		}
	}
	if creds.tk != nil && seed.tk != nil {
		later := seed
		if creds.tk.Line() > seed.tk.Line() {
			later = creds
		}
		l.errAt(later, "a remote cannot have both credentials and an nkey seed")
		return nil
	}
	if len(r.URLs) == 0 {
		l.warnAt(el, "leafnode remote has no url; it will never connect")
	}
	r.tlsFromURLs()
	return r
}

// remoteURLs reads url or urls: one URL or a list. Duplicates in a list
// are dropped with a warning, as in nats-server.
func (l *loader) remoteURLs(n node) []*url.URL {
	list, ok := l.stringList(n)
	if !ok {
		return nil
	}
	seen := make(map[string]bool, len(list))
	out := make([]*url.URL, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if seen[s] {
			l.warnAt(n, "duplicate leafnode url %s ignored", redactedURL(s))
			continue
		}
		seen[s] = true
		if u := l.remoteURL(n, s); u != nil {
			out = append(out, u)
		}
	}
	return out
}

// remoteURL parses one remote URL. User information stays in the URL: the
// leaf dialer sends it as a token or user and password. A missing port is
// the leafnode port, 7422.
func (l *loader) remoteURL(n node, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil || !strings.Contains(s, "://") {
		l.invalid(n, "cannot read leafnode url %s: expected scheme://[user[:password]@]host[:port]", redactedURL(s))
		return nil
	}
	switch strings.ToLower(u.Scheme) {
	case "nats-leaf", "nats", "tls", "ws", "wss":
	default:
		l.invalid(n, "leafnode url %s: unsupported scheme %q (use nats-leaf://, nats://, tls://, ws:// or wss://)", redact(u), u.Scheme)
		return nil
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Hostname() == "" {
		l.invalid(n, "leafnode url %s has no host", redact(u))
		return nil
	}
	if p := u.Port(); p == "" {
		port := DefaultLeafPort
		switch u.Scheme {
		case "ws":
			port = 80
		case "wss":
			port = 443
		}
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	} else if v, err := strconv.Atoi(p); err != nil || v < 1 || v > 65535 {
		l.invalid(n, "leafnode url %s has an invalid port", redact(u))
		return nil
	}
	return u
}

// redactedURL shows a URL without its password, even one that does not
// parse.
func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return redact(u)
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "[REDACTED]" + s[i:]
		}
		return "[REDACTED]" + s[i:]
	}
	return s
}

// compression reads a compression setting: a mode, true (s2_auto), false
// (off), or a map with mode and rtt_thresholds. The mode is normalised to
// nats-server's spelling.
func (l *loader) compression(n node, rtts *[]time.Duration) (string, bool) {
	var mode string
	switch v := n.v.(type) {
	case bool:
		if v {
			return "s2_auto", true
		}
		return "off", true
	case string:
		mode = v
	case map[string]any:
		for _, e := range entries(n, v) {
			switch strings.ToLower(e.key) {
			case "mode":
				if s, ok := l.str(e); ok {
					mode = s
				}
			case "rtt_thresholds", "thresholds", "rtts", "rtt":
				list, ok := e.v.([]any)
				if !ok {
					l.invalid(e, "expected a list of durations, got %s", describe(e.v))
					continue
				}
				for _, it := range list {
					d, ok := l.duration(child(e, e.key, it))
					if !ok {
						break
					}
					*rtts = append(*rtts, d)
				}
			default:
				l.unknown(e)
			}
		}
		if mode == "" {
			return "", false
		}
	default:
		l.invalid(n, "expected a mode, a boolean or a map, got %s", describe(n.v))
		return "", false
	}
	c, ok := compressionMode(mode)
	if !ok {
		l.invalid(n, "unsupported compression mode %q", mode)
		return c, ok
	}
	if len(*rtts) > 0 {
		t, err := CheckRTTThresholds(*rtts)
		if err != nil {
			l.invalid(n, "compression mode %q %v", c, err)
			return c, false
		}
		*rtts = t
	}
	return c, ok
}

// compressionMode maps the spellings nats-server accepts to its own.
func compressionMode(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "enabled", "true", "auto", "s2_auto":
		return "s2_auto", true
	case "off", "disabled", "false":
		return "off", true
	case "accept":
		return "accept", true
	case "fast", "s2_fast":
		return "s2_fast", true
	case "better", "s2_better":
		return "s2_better", true
	case "best", "s2_best":
		return "s2_best", true
	case "not supported", "not_supported":
		return "not supported", true
	}
	return "", false
}

// checkMinVersion returns why v cannot be a leafnode minimum version, or
// "". Versions before 2.8.0 cannot be checked, since older servers do not
// send theirs.
func checkMinVersion(v string) string {
	core, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return fmt.Sprintf("invalid leafnode minimum version %q: expected major.minor.patch", v)
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return fmt.Sprintf("invalid leafnode minimum version %q: expected major.minor.patch", v)
		}
		n[i] = x
	}
	if n[0] < 2 || n[0] == 2 && n[1] < 8 {
		return fmt.Sprintf("leafnode minimum version %q is below 2.8.0, the lowest that can be checked", v)
	}
	return ""
}

// expandPath expands environment variables and a leading ~ in a file
// path, as nats-server does for credentials files.
func expandPath(p string) (string, error) {
	p = os.ExpandEnv(p)
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand %q: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// CheckRTTThresholds validates s2_auto's rtt_thresholds as nats-server
// does: negative values count as 0 (a level not used), the others must
// ascend, trailing zeros go, and between one and four must remain.
func CheckRTTThresholds(in []time.Duration) ([]time.Duration, error) {
	var out []time.Duration
	for _, d := range in {
		d = max(d, 0)
		if d != 0 {
			for _, v := range out {
				if d < v {
					return nil, fmt.Errorf("has RTT thresholds %v not in ascending order", in)
				}
			}
		}
		out = append(out, d)
	}
	for len(out) > 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-1]
	}
	switch {
	case len(out) > 4:
		return nil, fmt.Errorf("should have no more than 4 RTT thresholds: %v", in)
	case len(out) == 0:
		return nil, fmt.Errorf("requires at least one RTT threshold")
	}
	return out, nil
}
