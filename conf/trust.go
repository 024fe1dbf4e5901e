package conf

import (
	"os"
	"strings"

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

// resolver maps resolver. Canopy keeps accounts in memory only, from
// resolver_preload; the URL and directory resolvers are refused by name so
// the operator knows what to change.
func (l *loader) resolver(n node) {
	var kind string
	switch v := n.v.(type) {
	case string:
		kind = strings.TrimSpace(v)
	case map[string]any:
		for _, e := range entries(n, v) {
			if strings.EqualFold(e.key, "type") {
				if s, ok := l.str(e); ok {
					kind = strings.TrimSpace(s)
				}
			}
		}
		if kind == "" {
			l.invalid(n, "resolver block needs a type; Canopy supports only MEMORY")
			return
		}
	default:
		l.invalid(n, "expected MEMORY, got %s", describe(n.v))
		return
	}
	switch up := strings.ToUpper(kind); {
	case up == "MEM" || up == "MEMORY":
		l.opts.Resolver = "MEMORY"
	case strings.HasPrefix(up, "URL"):
		l.invalid(n, "the URL resolver is not supported by Canopy; use resolver: MEMORY with resolver_preload")
	case up == "FULL" || up == "CACHE":
		l.invalid(n, "the %s (nats-based) resolver is not supported by Canopy; use resolver: MEMORY with resolver_preload", up)
	default:
		l.invalid(n, "unknown resolver %q; Canopy supports only MEMORY (with resolver_preload)", kind)
	}
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
