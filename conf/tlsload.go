package conf

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"
)

// tlsBlock reads a tls block as nats-server's parseTLS reads it, then
// builds its tls.Config once, as nats-server does at load time, so that a
// missing key file or an unreadable CA bundle fails the load at the block's
// line rather than at the first handshake. remote selects the client-side
// build (a leafnodes remote). It returns nil when the block has errors.
func (l *loader) tlsBlock(n node, remote bool) *TLS {
	m, ok := l.mapOf(n)
	if !ok {
		return nil
	}
	before := len(l.errs)
	t := &TLS{}
	for _, e := range entries(n, m) {
		l.tlsKey(t, e)
	}
	if len(l.errs) > before {
		return nil
	}
	if t.CertFile != "" && len(t.Certs) > 0 {
		l.errAt(n, "error parsing tls config, cannot combine 'cert_file' option with 'certs' option")
		return nil
	}
	build := t.ServerConfig
	if remote {
		build = t.ClientConfig
	}
	if _, err := build(); err != nil {
		l.errAt(n, "%v", err)
		return nil
	}
	return t
}

// tlsKey maps one key of a tls block. The messages are nats-server's.
func (l *loader) tlsKey(t *TLS, e node) {
	key := strings.ToLower(e.key)
	switch key {
	case "cert_file", "key_file", "ca_file":
		s, ok := e.v.(string)
		if !ok {
			l.errAt(e, "error parsing tls config, expected '%s' to be filename", key)
			return
		}
		switch key {
		case "cert_file":
			t.CertFile = s
		case "key_file":
			t.KeyFile = s
		default:
			t.CAFile = s
		}
	case "insecure", "verify", "verify_and_map", "allow_insecure_cipher_suites", "verify_cert_and_check_known_urls":
		b, ok := e.v.(bool)
		if !ok {
			l.errAt(e, "error parsing tls config, expected '%s' to be a boolean", key)
			return
		}
		switch key {
		case "insecure":
			t.Insecure = b
		case "verify":
			t.Verify = b
		case "verify_and_map":
			// Mapping needs a verified certificate, so it turns verify
			// on; turning it off leaves verify as it was.
			t.VerifyAndMap = b
			if b {
				t.Verify = true
			}
		case "allow_insecure_cipher_suites":
			t.AllowInsecureCiphers = b
		default:
			// Routes and gateways only; every block Canopy reads is a
			// client context to nats-server.
			if b {
				l.errAt(e, "verify_cert_and_check_known_urls not supported in this context")
			}
		}
	case "cipher_suites":
		names, ok := l.tlsNames(e)
		if !ok {
			return
		}
		t.CipherSuites = make([]uint16, 0, len(names))
		for _, nm := range names {
			cs, found := CipherSuiteByName(nm.v.(string))
			if !found {
				l.errAt(nm, "unrecognized cipher %s", nm.v)
				continue
			}
			t.CipherSuites = append(t.CipherSuites, cs.ID)
		}
	case "curve_preferences":
		names, ok := l.tlsNames(e)
		if !ok {
			return
		}
		t.CurvePreferences = make([]tls.CurveID, 0, len(names))
		for _, nm := range names {
			c, found := CurveByName(nm.v.(string))
			if !found {
				l.errAt(nm, "unrecognized curve preference %s", nm.v)
				continue
			}
			t.CurvePreferences = append(t.CurvePreferences, c)
		}
	case "timeout":
		if d, ok := l.tlsTimeout(e); ok {
			t.Timeout = d
		}
	case "pinned_certs":
		l.pinnedCerts(t, e)
	case "handshake_first", "first", "immediate":
		l.handshakeFirst(t, e)
	case "certs", "certificates":
		l.certPairs(t, e)
	case "min_version":
		s, ok := e.v.(string)
		if !ok {
			l.errAt(e, "error parsing tls config: 'min_version' wrong type: %v", e.v)
			return
		}
		v, err := tlsVersion(s)
		if err != nil {
			l.errAt(e, "error parsing tls config: %v", err)
			return
		}
		t.MinVersion = v
	case "ocsp_peer", "cert_match_skip_invalid":
		// Off asks for nothing; on would be ignored, so it is refused.
		if b, isBool := e.v.(bool); isBool && !b {
			return
		}
		l.refuseTLS(e, fmt.Sprintf("%q in a tls block", e.key))
	case "cert_store", "cert_match_by", "cert_match", "ca_certs_match", "connection_rate_limit":
		l.refuseTLS(e, fmt.Sprintf("%q in a tls block", e.key))
	default:
		l.errAt(e, "error parsing tls config, unknown field %q", e.key)
	}
}

// tlsNames reads a non-empty array of strings (cipher_suites,
// curve_preferences) and returns its elements as nodes, for errors that
// point at the one that is wrong.
func (l *loader) tlsNames(e node) ([]node, bool) {
	a, ok := e.v.([]any)
	if !ok {
		l.errAt(e, "error parsing tls config, expected '%s' to be an array of names", strings.ToLower(e.key))
		return nil, false
	}
	if len(a) == 0 {
		l.errAt(e, "error parsing tls config, '%s' cannot be empty", strings.ToLower(e.key))
		return nil, false
	}
	names := elements(e, a)
	for _, nm := range names {
		if _, isStr := nm.v.(string); !isStr {
			l.errAt(nm, "error parsing tls config, expected '%s' to hold names, got %s", strings.ToLower(e.key), describe(nm.v))
			return nil, false
		}
	}
	return names, true
}

// tlsTimeout reads a handshake timeout: seconds (integer or fraction) or a
// duration string.
func (l *loader) tlsTimeout(e node) (time.Duration, bool) {
	d, typed, err := seconds(e.v)
	switch {
	case !typed:
		l.errAt(e, "error parsing tls config, 'timeout' wrong type")
		return 0, false
	case err != nil:
		l.errAt(e, "error parsing tls config, 'timeout' %s", err)
		return 0, false
	}
	if d < 0 {
		l.errAt(e, "error parsing tls config, 'timeout' %v is negative", d)
		return 0, false
	}
	return d, true
}

// pinnedCerts reads pinned_certs: hex sha256 digests, lower-cased.
func (l *loader) pinnedCerts(t *TLS, e node) {
	a, ok := e.v.([]any)
	if !ok {
		l.errAt(e, "error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo")
		return
	}
	for _, el := range elements(e, a) {
		s, isStr := el.v.(string)
		entry := strings.ToLower(s)
		if !isStr || !isPin(entry) {
			l.errAt(el, "error parsing tls config, 'pinned_certs' key %v does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo", el.v)
			continue
		}
		t.PinnedCerts = append(t.PinnedCerts, entry)
	}
}

// handshakeFirst reads handshake_first: a boolean, or a string that is a
// boolean, "auto" (fall back after DefaultTLSFallback) or a fallback delay.
func (l *loader) handshakeFirst(t *TLS, e node) {
	switch x := e.v.(type) {
	case bool:
		t.HandshakeFirst, t.FallbackDelay = x, 0
	case string:
		switch strings.ToLower(x) {
		case "true", "on":
			t.HandshakeFirst, t.FallbackDelay = true, 0
		case "false", "off":
			t.HandshakeFirst, t.FallbackDelay = false, 0
		case "auto", "auto_fallback":
			t.HandshakeFirst, t.FallbackDelay = true, DefaultTLSFallback
		default:
			d, err := time.ParseDuration(x)
			if err != nil {
				l.errAt(e, "field %q's value %q is invalid", e.key, x)
				return
			}
			t.HandshakeFirst, t.FallbackDelay = true, d
		}
	default:
		l.errAt(e, "field %q should be a boolean or a string, got %s", e.key, describe(e.v))
	}
}

// certPairs reads certs: a list of {cert_file, key_file}.
func (l *loader) certPairs(t *TLS, e node) {
	a, ok := e.v.([]any)
	if !ok {
		l.errAt(e, "error parsing certificates config: expected an array, got %s", describe(e.v))
		return
	}
	for _, el := range elements(e, a) {
		m, isMap := el.v.(map[string]any)
		if !isMap {
			l.errAt(el, "error parsing certificates config: expected a map, got %s", describe(el.v))
			continue
		}
		var p CertPair
		good := true
		for _, f := range entries(el, m) {
			s, isStr := f.v.(string)
			if !isStr {
				l.errAt(f, "error parsing certificates config: expected %q to be a filename, got %s", f.key, describe(f.v))
				good = false
				continue
			}
			switch f.key {
			case "cert_file":
				p.CertFile = s
			case "key_file":
				p.KeyFile = s
			default:
				l.errAt(f, "error parsing tls certs config, unknown field %q", f.key)
				good = false
			}
		}
		if !good {
			continue
		}
		if p.CertFile == "" || p.KeyFile == "" {
			l.errAt(el, "error parsing certificates config: both 'cert_file' and 'cert_key' options are required")
			continue
		}
		t.Certs = append(t.Certs, p)
	}
}

// tlsVersion reads a min_version value.
func tlsVersion(s string) (uint16, error) {
	var v uint16
	switch s {
	case "1.0":
		v = tls.VersionTLS10
	case "1.1":
		v = tls.VersionTLS11
	case "1.2":
		v = tls.VersionTLS12
	case "1.3":
		v = tls.VersionTLS13
	default:
		return 0, fmt.Errorf("unknown version: %v", s)
	}
	if v < tls.VersionTLS12 {
		return 0, fmt.Errorf("unsupported TLS version: %s", tls.VersionName(v))
	}
	return v, nil
}
