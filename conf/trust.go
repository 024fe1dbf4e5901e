package conf

import (
	"os"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// operators maps operator (and its aliases): a JWT file path or an inline
// JWT, or a list of them. Each is read and decoded now, so that a bad
// operator stops the server at start rather than at the first client.
func (l *loader) operators(n node) {
	list, ok := l.stringList(n)
	if !ok {
		return
	}
	for _, s := range list {
		tok, claims, err := readOperatorJWT(s)
		if err != nil {
			l.invalid(n, "cannot read operator JWT: %v", err)
			continue
		}
		l.opts.TrustedOperators = append(l.opts.TrustedOperators, tok)
		if len(l.opts.TrustedOperators) == 1 {
			l.systemFromOperator = claims.SystemAccount
		}
	}
}

// jwtPrefix starts every JWT: the base64 of `{"`.
const jwtPrefix = "eyJ"

// readOperatorJWT reads an operator JWT from a file, bare or between the
// dashed lines nsc writes, or takes s itself when it is an inline JWT.
func readOperatorJWT(s string) (string, *jwt.OperatorClaims, error) {
	data, err := os.ReadFile(s)
	if err != nil {
		if !strings.HasPrefix(s, jwtPrefix) {
			return "", nil, err
		}
		data = []byte(s)
	}
	tok, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return "", nil, err
	}
	tok = strings.TrimSpace(tok)
	claims, err := jwt.DecodeOperatorClaims(tok)
	if err != nil {
		return "", nil, err
	}
	return tok, claims, nil
}

// trusted maps trusted (trusted_keys): operator public keys.
func (l *loader) trusted(n node) {
	list, ok := l.stringList(n)
	if !ok {
		return
	}
	for _, k := range list {
		if !nkeys.IsValidPublicOperatorKey(k) {
			l.invalid(n, "%q is not a valid public operator nkey", k)
			continue
		}
		l.opts.TrustedKeys = append(l.opts.TrustedKeys, k)
	}
}

// resolver maps resolver: MEMORY (a word), or a block naming the type
// and, for the directory resolvers, their settings:
//
//	resolver { type: full, dir: "./jwt", allow_delete: true, interval: "2m", limit: 1000, timeout: "2s" }
//	resolver { type: cache, dir: "./jwt", ttl: "1h", limit: 1000, timeout: "2s" }
//
// The URL resolver is refused by name. The errors about a block's values
// are nats-server's words.
func (l *loader) resolver(n node) {
	switch v := n.v.(type) {
	case string:
		switch up := strings.ToUpper(strings.TrimSpace(v)); {
		case up == "MEM" || up == "MEMORY":
			l.opts.Resolver = "MEMORY"
		case strings.HasPrefix(up, "URL"):
			l.invalid(n, "the URL resolver is not supported by Canopy; use resolver: MEMORY with resolver_preload, or a full or cache resolver block")
		default:
			l.invalid(n, "unknown resolver %q; Canopy supports MEMORY, or a block of type full or cache", v)
		}
	case map[string]any:
		l.resolverBlock(n, v)
	default:
		l.invalid(n, "error parsing operator resolver, wrong type %s", describe(n.v))
	}
}

// resolverBlock reads a resolver { ... } block.
func (l *loader) resolverBlock(n node, m map[string]any) {
	var kind, dir string
	var del, hdel, hdelSet, ttlSet, syncSet bool
	var limit int64
	var ttl, sync, timeout time.Duration
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "type":
			if s, ok := l.str(e); ok {
				kind = strings.ToUpper(strings.TrimSpace(s))
			}
		case "dir":
			if s, ok := l.str(e); ok {
				dir = s
			}
		case "allow_delete":
			if b, ok := l.boolean(e); ok {
				del = b
			}
		case "hard_delete":
			if b, ok := l.boolean(e); ok {
				hdel, hdelSet = b, true
			}
		case "limit":
			if i, ok := l.integer(e); ok {
				limit = i
			}
		case "ttl":
			if d, ok := l.resolverDuration(e); ok {
				ttl, ttlSet = d, d != 0
			}
		case "interval":
			if d, ok := l.resolverDuration(e); ok {
				sync, syncSet = d, d != 0
			}
		case "timeout":
			if d, ok := l.resolverDuration(e); ok {
				if d <= 0 {
					l.invalid(e, "Fetch timeout %v is too smal", d)
				}
				timeout = d
			}
		default:
			l.warnAt(e, "unknown field %q in the resolver block, ignored", e.key)
		}
	}
	checkDir := func() bool {
		if dir == "" {
			l.invalid(n, "dir has no value and needs to point to a directory")
			return false
		}
		if fi, err := os.Stat(dir); err == nil && (!fi.IsDir() || fi.Mode().Perm()&0o200 == 0) {
			l.invalid(n, "dir needs to point to an accessible directory")
			return false
		}
		return true
	}
	o := l.opts
	switch kind {
	case "MEM", "MEMORY":
		o.Resolver = "MEMORY"
		return
	case "CACHE":
		ok := checkDir()
		if syncSet {
			l.invalid(n, "CACHE does not accept sync")
			ok = false
		}
		if del {
			l.invalid(n, "CACHE does not accept allow_delete")
			ok = false
		}
		if hdelSet {
			l.invalid(n, "CACHE does not accept hard_delete")
			ok = false
		}
		if !ok {
			return
		}
	case "FULL":
		ok := checkDir()
		if ttlSet {
			l.invalid(n, "FULL does not accept ttl")
			ok = false
		}
		if hdelSet && !del {
			l.invalid(n, "hard_delete has no effect without delete")
			ok = false
		}
		if !ok {
			return
		}
	default:
		l.invalid(n, `error parsing account resolver, should be MEM or  URL("url") or a map containing dir and type state=[FULL|CACHE])`)
		return
	}
	o.Resolver = kind
	o.ResolverDir = dir
	o.ResolverAllowDelete = del
	o.ResolverHardDelete = hdel
	o.ResolverLimit = limit
	o.ResolverTTL = ttl
	o.ResolverInterval = sync
	o.ResolverTimeout = timeout
}

// resolverDuration reads a resolver block's duration: a string only, as
// nats-server parses them with time.ParseDuration and says why not.
func (l *loader) resolverDuration(n node) (time.Duration, bool) {
	s, ok := n.v.(string)
	if !ok {
		l.invalid(n, "expected a duration such as \"2m\", got %s", describe(n.v))
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		l.invalid(n, "%v", err)
		return 0, false
	}
	return d, true
}

// preload maps resolver_preload: account public key to account JWT.
func (l *loader) preload(n node) {
	m, ok := l.mapOf(n)
	if !ok {
		return
	}
	if l.opts.ResolverPreload == nil {
		l.opts.ResolverPreload = make(map[string]string, len(m))
	}
	for _, e := range entries(n, m) {
		s, ok := l.str(e)
		if !ok {
			continue
		}
		claims, err := jwt.DecodeAccountClaims(strings.TrimSpace(s))
		if err != nil {
			l.invalid(e, "invalid account JWT: %v", err)
			continue
		}
		// nats-server accepts a mismatch here and fails later, when a
		// user of that account connects; say so now, without refusing a
		// file it accepts.
		if claims.Subject != e.key {
			l.warnAt(e, "resolver_preload: account JWT is for %s, not %s; users of %s will not find it", claims.Subject, e.key, e.key)
		}
		l.opts.ResolverPreload[e.key] = strings.TrimSpace(s)
	}
}
