package conf

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/testcert"
)

// certs makes a test certificate set and returns it with a replacer that
// expands $CERT, $KEY, $CA and $OTHERCA in configuration text.
func certs(t *testing.T) (*testcert.Set, func(string) string) {
	t.Helper()
	s := testcert.New(t, t.TempDir())
	r := strings.NewReplacer("$CERT", s.Server.CertFile, "$KEY", s.Server.KeyFile,
		"$CA", s.CA.CertFile, "$OTHERCA", s.Other.CertFile)
	return s, r.Replace
}

func TestTLSBlockKeys(t *testing.T) {
	s, x := certs(t)
	pin := testcert.Pin(s.Server.Cert)
	o := mustParse(t, x(`
tls {
  cert_file: "$CERT"
  key_file: "$KEY"
  ca_file: "$CA"
  verify_and_map: true
  timeout: 1.5
  handshake_first: "300ms"
  min_version: "1.3"
  cipher_suites: ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"]
  curve_preferences: ["X25519", "CurveP256"]
  pinned_certs: ["`+strings.ToUpper(pin)+`"]
}
allow_non_tls: true
`))
	want := &TLS{
		CertFile: s.Server.CertFile, KeyFile: s.Server.KeyFile, CAFile: s.CA.CertFile,
		Verify: true, VerifyAndMap: true,
		Timeout:        1500 * time.Millisecond,
		HandshakeFirst: true, FallbackDelay: 300 * time.Millisecond,
		MinVersion:       tls.VersionTLS13,
		CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		PinnedCerts:      []string{pin},
	}
	if !reflect.DeepEqual(o.TLS, want) {
		t.Errorf("TLS\n%+v\nwant\n%+v", o.TLS, want)
	}
	if !o.AllowNonTLS {
		t.Error("allow_non_tls not set")
	}
}

func TestTLSKeyForms(t *testing.T) {
	_, x := certs(t)
	base := `cert_file: "$CERT", key_file: "$KEY"`
	tests := []struct {
		body  string
		check func(*TLS) bool
	}{
		{`timeout: 3`, func(c *TLS) bool { return c.Timeout == 3*time.Second && c.HandshakeTimeout() == 3*time.Second }},
		{`timeout: "250ms"`, func(c *TLS) bool { return c.Timeout == 250*time.Millisecond }},
		{``, func(c *TLS) bool { return c.Timeout == 0 && c.HandshakeTimeout() == DefaultTLSTimeout }},
		{`handshake_first: true`, func(c *TLS) bool { return c.HandshakeFirst && c.FallbackDelay == 0 }},
		{`first: "auto"`, func(c *TLS) bool { return c.HandshakeFirst && c.FallbackDelay == DefaultTLSFallback }},
		{`immediate: "on"`, func(c *TLS) bool { return c.HandshakeFirst && c.FallbackDelay == 0 }},
		{`handshake_first: "false"`, func(c *TLS) bool { return !c.HandshakeFirst }},
		{`verify: true`, func(c *TLS) bool { return c.Verify && !c.VerifyAndMap }},
		{`verify: true, verify_and_map: false`, func(c *TLS) bool { return c.Verify && !c.VerifyAndMap }},
		{`min_version: "1.2"`, func(c *TLS) bool { return c.MinVersion == tls.VersionTLS12 }},
		{`CERT_FILE: "$CERT"`, func(c *TLS) bool { return c.CertFile != "" }},
		{`verify_cert_and_check_known_urls: false, ocsp_peer: false`, func(c *TLS) bool { return true }},
		{`allow_insecure_cipher_suites: true, cipher_suites: ["TLS_RSA_WITH_RC4_128_SHA"]`, func(c *TLS) bool {
			return c.AllowInsecureCiphers && len(c.CipherSuites) == 1 && c.CipherSuites[0] == tls.TLS_RSA_WITH_RC4_128_SHA
		}},
	}
	for _, tt := range tests {
		o := mustParse(t, x("tls { "+base+", "+tt.body+" }"))
		if !tt.check(o.TLS) {
			t.Errorf("%s: %+v", tt.body, o.TLS)
		}
	}
}

func TestTLSCertsList(t *testing.T) {
	s, x := certs(t)
	other := s.Issue(t, "other", testcert.Spec{Subject: pkix.Name{CommonName: "other.test"}, DNSNames: []string{"other.test"}})
	o := mustParse(t, x(`tls { certs: [ { cert_file: "$CERT", key_file: "$KEY" }, { cert_file: "`+other.CertFile+`", key_file: "`+other.KeyFile+`" } ] }`))
	want := []CertPair{{s.Server.CertFile, s.Server.KeyFile}, {other.CertFile, other.KeyFile}}
	if !reflect.DeepEqual(o.TLS.Certs, want) {
		t.Fatalf("certs %+v", o.TLS.Certs)
	}
	cfg, err := o.TLS.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	// The certificate is chosen by the name the client asks for.
	for name, cn := range map[string]string{"localhost": "localhost", "other.test": "other.test"} {
		pool := s.Pool()
		state, srvErr, cliErr := handshake(t, cfg, &tls.Config{RootCAs: pool, ServerName: name})
		if srvErr != nil || cliErr != nil {
			t.Fatalf("%s: server %v client %v", name, srvErr, cliErr)
		}
		if got := state.PeerCertificates[0].Subject.CommonName; got != cn {
			t.Errorf("SNI %s got certificate %s", name, got)
		}
	}
}

func TestTLSBlockErrors(t *testing.T) {
	s, x := certs(t)
	missing := filepath.Join(s.Dir, "nope.pem")
	tests := []struct {
		name, data string
		want       []string
	}{
		{"unknown key", "tls {\n  cert_file: \"$CERT\"\n  key_file: \"$KEY\"\n  server_name: x\n}", []string{
			`/tmp/x.conf:4:3: error parsing tls config, unknown field "server_name"`,
		}},
		{"no key file", `tls { cert_file: "$CERT" }`, []string{
			`/tmp/x.conf:1:0: missing 'key_file' in TLS configuration`,
		}},
		{"no cert file", `tls { key_file: "$KEY" }`, []string{
			`/tmp/x.conf:1:0: missing 'cert_file' in TLS configuration`,
		}},
		{"unreadable cert", `tls { cert_file: "` + missing + `", key_file: "$KEY" }`, []string{
			`/tmp/x.conf:1:0: error parsing X509 certificate/key pair: open ` + missing + `: no such file or directory`,
		}},
		{"unreadable ca", `tls { cert_file: "$CERT", key_file: "$KEY", ca_file: "` + missing + `" }`, []string{
			`/tmp/x.conf:1:0: open ` + missing + `: no such file or directory`,
		}},
		{"ca not pem", `tls { cert_file: "$CERT", key_file: "$KEY", ca_file: "$KEY" }`, []string{
			`/tmp/x.conf:1:0: failed to parse root ca certificate`,
		}},
		{"wrong key", `tls { cert_file: "$CERT", key_file: "` + s.CA.KeyFile + `" }`, []string{
			`/tmp/x.conf:1:0: error parsing X509 certificate/key pair: tls: private key does not match public key`,
		}},
		{"cert_file type", `tls { cert_file: 1 }`, []string{
			`/tmp/x.conf:1:6: error parsing tls config, expected 'cert_file' to be filename`,
		}},
		{"verify type", `tls { verify: "yes" }`, []string{
			`/tmp/x.conf:1:6: error parsing tls config, expected 'verify' to be a boolean`,
		}},
		{"bad cipher", "tls {\n  cipher_suites: [\n    \"TLS_AES_128_GCM_SHA256\"\n    \"TLS_NO_SUCH\"\n  ]\n}", []string{
			`/tmp/x.conf:4:6: unrecognized cipher TLS_NO_SUCH`,
		}},
		{"empty ciphers", `tls { cipher_suites: [] }`, []string{
			`/tmp/x.conf:1:6: error parsing tls config, 'cipher_suites' cannot be empty`,
		}},
		{"insecure cipher", `tls { cert_file: "$CERT", key_file: "$KEY", cipher_suites: ["TLS_RSA_WITH_RC4_128_SHA"] }`, []string{
			`/tmp/x.conf:1:0: insecure cipher suites configured without 'allow_insecure_cipher_suites' option set: TLS_RSA_WITH_RC4_128_SHA`,
		}},
		{"bad curve", `tls { curve_preferences: ["P256"] }`, []string{
			`/tmp/x.conf:1:27: unrecognized curve preference P256`,
		}},
		{"min version old", `tls { min_version: "1.1" }`, []string{
			`/tmp/x.conf:1:6: error parsing tls config: unsupported TLS version: TLS 1.1`,
		}},
		{"min version unknown", `tls { min_version: "1.4" }`, []string{
			`/tmp/x.conf:1:6: error parsing tls config: unknown version: 1.4`,
		}},
		{"min version type", `tls { min_version: 1.2 }`, []string{
			`/tmp/x.conf:1:6: error parsing tls config: 'min_version' wrong type: 1.2`,
		}},
		{"timeout", `tls { timeout: "soon" }`, []string{
			`/tmp/x.conf:1:6: error parsing tls config, 'timeout' time: invalid duration "soon"`,
		}},
		{"timeout type", `tls { timeout: true }`, []string{
			`/tmp/x.conf:1:6: error parsing tls config, 'timeout' wrong type`,
		}},
		{"pin", `tls { pinned_certs: ["abc"] }`, []string{
			`/tmp/x.conf:1:22: error parsing tls config, 'pinned_certs' key abc does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo`,
		}},
		{"handshake_first", `tls { handshake_first: "sometimes" }`, []string{
			`/tmp/x.conf:1:6: field "handshake_first"'s value "sometimes" is invalid`,
		}},
		{"handshake_first type", `tls { first: 1 }`, []string{
			`/tmp/x.conf:1:6: field "first" should be a boolean or a string, got integer 1`,
		}},
		{"certs and cert_file", `tls { cert_file: "$CERT", key_file: "$KEY", certs: [ { cert_file: "$CERT", key_file: "$KEY" } ] }`, []string{
			`/tmp/x.conf:1:0: error parsing tls config, cannot combine 'cert_file' option with 'certs' option`,
		}},
		{"certs pair", `tls { certs: [ { cert_file: "$CERT" } ] }`, []string{
			`/tmp/x.conf:1:17: error parsing certificates config: both 'cert_file' and 'cert_key' options are required`,
		}},
		{"certs field", `tls { certs: [ { cert_file: "c.pem", key: "k.pem" } ] }`, []string{
			`/tmp/x.conf:1:37: error parsing tls certs config, unknown field "key"`,
		}},
		{"known urls", `tls { verify_cert_and_check_known_urls: true }`, []string{
			`/tmp/x.conf:1:6: verify_cert_and_check_known_urls not supported in this context`,
		}},
		{"not a map", `tls: true`, []string{
			`/tmp/x.conf:1:0: invalid value for "tls": expected a map, got boolean true`,
		}},
		{"no certificate", `tls { ca_file: "$CA" }`, []string{
			`/tmp/x.conf:1:0: tls block has no certificate (cert_file and key_file, or certs): every client TLS handshake would fail`,
		}},
		{"leaf listener without certificate", `leafnodes { port: 7422, tls { verify: true } }`, []string{
			`/tmp/x.conf:1:24: leafnodes tls block has no certificate (cert_file and key_file, or certs): every leafnode TLS handshake would fail`,
		}},
		{"remote tls error", `leafnodes { remotes: [ { url: "nats://hub", tls: { ca_file: "` + missing + `" } } ] }`, []string{
			`/tmp/x.conf:1:44: open ` + missing + `: no such file or directory`,
		}},
		{"https and http", "tls { cert_file: \"$CERT\", key_file: \"$KEY\" }\nhttp_port: 8222\nhttps_port: 8443", []string{
			`/tmp/x.conf:3:1: can't specify both HTTP (8222) and HTTPs (8443) ports`,
		}},
		{"https without tls", "https: \"127.0.0.1:8443\"", []string{
			`/tmp/x.conf:1:0: TLS cert and key required for HTTPS`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorLines(t, x(tt.data))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestTLSRefusedKeys checks that the TLS settings Canopy cannot honour
// stop the load, named with their place, rather than being ignored.
func TestTLSRefusedKeys(t *testing.T) {
	_, x := certs(t)
	tests := []struct{ data, want string }{
		{`resolver_tls { ca_file: "$CA" }`, `/tmp/x.conf:1:0: "resolver_tls" block: TLS feature not supported by Canopy`},
		{`ocsp: true`, `/tmp/x.conf:1:0: "ocsp" (OCSP stapling): TLS feature not supported by Canopy`},
		{"tls {\n  cert_store: WindowsCurrentUser\n}", `/tmp/x.conf:2:3: "cert_store" in a tls block: TLS feature not supported by Canopy`},
		{`tls { cert_match_by: Subject }`, `/tmp/x.conf:1:6: "cert_match_by" in a tls block: TLS feature not supported by Canopy`},
		{`tls { cert_match: x }`, `/tmp/x.conf:1:6: "cert_match" in a tls block: TLS feature not supported by Canopy`},
		{`tls { cert_match_skip_invalid: true }`, `/tmp/x.conf:1:6: "cert_match_skip_invalid" in a tls block: TLS feature not supported by Canopy`},
		{`tls { ca_certs_match: x }`, `/tmp/x.conf:1:6: "ca_certs_match" in a tls block: TLS feature not supported by Canopy`},
		{`tls { ocsp_peer: true }`, `/tmp/x.conf:1:6: "ocsp_peer" in a tls block: TLS feature not supported by Canopy`},
		{`tls { connection_rate_limit: 10 }`, `/tmp/x.conf:1:6: "connection_rate_limit" in a tls block: TLS feature not supported by Canopy`},
		{`leafnodes { tls { ocsp_peer: { verify: true } } }`, `/tmp/x.conf:1:18: "ocsp_peer" in a tls block: TLS feature not supported by Canopy`},
	}
	for _, tt := range tests {
		_, _, err := Parse([]byte(x(tt.data)), "/tmp/x.conf")
		if !errors.Is(err, ErrTLSNotSupported) || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.data, err, tt.want)
		}
	}
	// Off asks for nothing and loads.
	mustParse(t, "ocsp: false")
}

func TestLeafTLS(t *testing.T) {
	s, x := certs(t)
	o := mustParse(t, x(`
leafnodes {
  port: 7422
  tls { cert_file: "$CERT", key_file: "$KEY", ca_file: "$CA", verify: true, handshake_first: auto, timeout: "5s" }
  remotes: [
    { url: "tls://hub.example.com:7422" }
    { url: "nats-leaf://hub2:7422", tls: { ca_file: "$CA", cert_file: "$CERT", key_file: "$KEY", insecure: true, first: true } }
    { url: "nats://hub3:7422" }
  ]
}`))
	ln := o.LeafNode
	if ln.TLS == nil || ln.TLS.CAFile != s.CA.CertFile || !ln.TLS.Verify || !ln.TLS.HandshakeFirst ||
		ln.TLS.FallbackDelay != DefaultTLSFallback || ln.TLS.Timeout != 5*time.Second {
		t.Errorf("leafnodes tls %+v", ln.TLS)
	}
	if r := ln.Remotes[0]; r.TLS == nil || !reflect.DeepEqual(*r.TLS, TLS{}) || r.URLs[0].Scheme != "tls" {
		t.Errorf("tls:// remote: %+v", r.TLS)
	}
	if r := ln.Remotes[1]; r.TLS == nil || !r.TLS.Insecure || !r.TLS.HandshakeFirst || r.TLS.CAFile != s.CA.CertFile {
		t.Errorf("remote with block: %+v", r.TLS)
	}
	if ln.Remotes[2].TLS != nil {
		t.Errorf("plain remote has TLS %+v", ln.Remotes[2].TLS)
	}
	if o.TLS != nil {
		t.Errorf("top-level TLS %+v", o.TLS)
	}
	// Options built in code get the same from Normalize.
	c := Options{LeafNode: LeafNode{Remotes: []*Remote{{URLs: ln.Remotes[0].URLs}}}}
	c.Normalize()
	if c.LeafNode.Remotes[0].TLS == nil {
		t.Error("Normalize left a tls:// remote without TLS")
	}
}

func TestHTTPS(t *testing.T) {
	_, x := certs(t)
	block := "tls { cert_file: \"$CERT\", key_file: \"$KEY\" }\n"
	o := mustParse(t, x(block+`https: "127.0.0.1:8443"`))
	if o.HTTPSPort != 8443 || o.HTTPHost != "127.0.0.1" || o.HTTPPort != 0 {
		t.Errorf("https: %d %q %d", o.HTTPSPort, o.HTTPHost, o.HTTPPort)
	}
	o = mustParse(t, x(block+"host: 127.0.0.2\nhttps_port: -1"))
	if o.HTTPSPort != -1 || o.HTTPHost != "127.0.0.2" {
		t.Errorf("https_port: %d %q", o.HTTPSPort, o.HTTPHost)
	}
}

func TestServerConfig(t *testing.T) {
	s, _ := certs(t)
	client := s.Issue(t, "client", testcert.Spec{Subject: pkix.Name{CommonName: "client"}})
	foreign := s.Issue(t, "foreign", testcert.Spec{Subject: pkix.Name{CommonName: "foreign"}, Other: true})
	base := TLS{CertFile: s.Server.CertFile, KeyFile: s.Server.KeyFile}
	dial := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: s.Pool(), ServerName: "localhost", Certificates: certs}
	}

	cfg, err := base.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.NoClientCert || cfg.MinVersion != tls.VersionTLS12 || !cfg.DynamicRecordSizingDisabled ||
		!reflect.DeepEqual(cfg.CipherSuites, DefaultCipherSuites()) || !reflect.DeepEqual(cfg.CurvePreferences, DefaultCurvePreferences()) {
		t.Errorf("defaults: auth %v min %x dyn %v", cfg.ClientAuth, cfg.MinVersion, cfg.DynamicRecordSizingDisabled)
	}
	if _, srvErr, cliErr := handshake(t, cfg, dial()); srvErr != nil || cliErr != nil {
		t.Fatalf("plain TLS: %v %v", srvErr, cliErr)
	}

	v := base
	v.Verify, v.CAFile = true, s.CA.CertFile
	cfg, err = v.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Fatalf("verify: %v", cfg.ClientAuth)
	}
	if _, srvErr, _ := handshake(t, cfg, dial()); srvErr == nil {
		t.Error("verify let in a client without a certificate")
	}
	if _, srvErr, _ := handshake(t, cfg, dial(foreign.TLS)); srvErr == nil {
		t.Error("verify let in a certificate of another CA")
	}
	if _, srvErr, cliErr := handshake(t, cfg, dial(client.TLS)); srvErr != nil || cliErr != nil {
		t.Errorf("verify refused a good client: %v %v", srvErr, cliErr)
	}
	m := base
	m.VerifyAndMap = true
	if cfg, _ = m.ServerConfig(); cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("verify_and_map: %v", cfg.ClientAuth)
	}

	p := v
	p.PinnedCerts = []string{testcert.Pin(client.Cert)}
	cfg, err = p.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if _, srvErr, _ := handshake(t, cfg, dial(client.TLS)); srvErr != nil {
		t.Errorf("pinned client refused: %v", srvErr)
	}
	other := s.Issue(t, "other", testcert.Spec{Subject: pkix.Name{CommonName: "other"}})
	if _, srvErr, _ := handshake(t, cfg, dial(other.TLS)); !errors.Is(srvErr, ErrCertNotPinned) || srvErr.Error() != "certificate not pinned" {
		t.Errorf("unpinned client: %v", srvErr)
	}
	// Without verify no certificate is asked for, so pins refuse all.
	np := base
	np.PinnedCerts = p.PinnedCerts
	cfg, _ = np.ServerConfig()
	if _, srvErr, _ := handshake(t, cfg, dial(client.TLS)); !errors.Is(srvErr, ErrCertNotPinned) {
		t.Errorf("pins without verify: %v", srvErr)
	}

	t13 := base
	t13.MinVersion = tls.VersionTLS13
	cfg, _ = t13.ServerConfig()
	old := dial()
	old.MaxVersion = tls.VersionTLS12
	if _, srvErr, _ := handshake(t, cfg, old); srvErr == nil {
		t.Error("min_version 1.3 accepted TLS 1.2")
	}
	if state, srvErr, _ := handshake(t, cfg, dial()); srvErr != nil || state.Version != tls.VersionTLS13 {
		t.Errorf("TLS 1.3: %v %x", srvErr, state.Version)
	}
}

// TestServerConfigRereads checks that each call reads the files again, so
// a reload serves a rotated certificate.
func TestServerConfigRereads(t *testing.T) {
	s, _ := certs(t)
	c := &TLS{CertFile: filepath.Join(s.Dir, "live-cert.pem"), KeyFile: filepath.Join(s.Dir, "live-key.pem")}
	install := func(cert *testcert.Cert) {
		for src, dst := range map[string]string{cert.CertFile: c.CertFile, cert.KeyFile: c.KeyFile} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(s.Server)
	first, err := c.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	next := s.Issue(t, "next", testcert.Spec{Subject: pkix.Name{CommonName: "next"}, DNSNames: []string{"localhost"}})
	install(next)
	second, err := c.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !first.Certificates[0].Leaf.Equal(s.Server.Cert) || !second.Certificates[0].Leaf.Equal(next.Cert) {
		t.Error("the certificate was not read again")
	}
}

func TestClientConfig(t *testing.T) {
	s, _ := certs(t)
	server := &TLS{CertFile: s.Server.CertFile, KeyFile: s.Server.KeyFile, CAFile: s.CA.CertFile, Verify: true}
	srv, err := server.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	client := s.Issue(t, "leaf", testcert.Spec{Subject: pkix.Name{CommonName: "leaf"}})
	remote := &TLS{CAFile: s.CA.CertFile, CertFile: client.CertFile, KeyFile: client.KeyFile, ServerName: "localhost"}
	cli, err := remote.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cli.RootCAs == nil || cli.ServerName != "localhost" || len(cli.Certificates) != 1 || !cli.DynamicRecordSizingDisabled || cli.MinVersion != tls.VersionTLS12 {
		t.Errorf("client config %+v", cli)
	}
	if _, srvErr, cliErr := handshake(t, srv, cli); srvErr != nil || cliErr != nil {
		t.Fatalf("remote with CA and certificate: %v %v", srvErr, cliErr)
	}

	// A name the server's certificate does not hold fails, unless insecure.
	wrong := *remote
	wrong.ServerName = "example.com"
	cli, _ = wrong.ClientConfig()
	if _, _, cliErr := handshake(t, srv, cli); cliErr == nil {
		t.Error("server certificate accepted for example.com")
	}
	wrong.Insecure = true
	cli, _ = wrong.ClientConfig()
	if !cli.InsecureSkipVerify {
		t.Error("insecure not set")
	}
	if _, srvErr, cliErr := handshake(t, srv, cli); srvErr != nil || cliErr != nil {
		t.Errorf("insecure: %v %v", srvErr, cliErr)
	}

	// The system roots do not know the test CA.
	sys := &TLS{CertFile: client.CertFile, KeyFile: client.KeyFile, ServerName: "localhost"}
	cli, _ = sys.ClientConfig()
	if cli.RootCAs != nil {
		t.Error("RootCAs set without ca_file")
	}
	if _, _, cliErr := handshake(t, srv, cli); cliErr == nil {
		t.Error("the test CA verified against the system roots")
	}

	// Pins on a remote check the hub's certificate.
	pinned := *remote
	pinned.PinnedCerts = []string{testcert.Pin(client.Cert)}
	cli, _ = pinned.ClientConfig()
	if _, _, cliErr := handshake(t, srv, cli); !errors.Is(cliErr, ErrCertNotPinned) {
		t.Errorf("hub not pinned: %v", cliErr)
	}
	pinned.PinnedCerts = []string{testcert.Pin(s.Server.Cert)}
	cli, _ = pinned.ClientConfig()
	if _, _, cliErr := handshake(t, srv, cli); cliErr != nil {
		t.Errorf("hub pinned: %v", cliErr)
	}
}

// handshake runs a TLS handshake between srv and cli over loopback TCP
// and returns the client's view of the connection and both sides' errors.
// TCP rather than net.Pipe: a side that fails sends its alert while the
// other may still be writing its flight, which an unbuffered pipe turns
// into a deadlock.
func handshake(t *testing.T, srv, cli *tls.Config) (tls.ConnectionState, error, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	sc, cc := tls.Server(a, srv), tls.Client(b, cli)
	errc := make(chan error, 1)
	go func() {
		err := sc.Handshake()
		if err == nil {
			// Under TLS 1.3 the client finishes first; a read makes the
			// server's verdict on its certificate reach it.
			_, _ = sc.Write([]byte("x"))
		}
		a.Close()
		errc <- err
	}()
	cliErr := cc.Handshake()
	if cliErr == nil {
		var one [1]byte
		_, cliErr = cc.Read(one[:])
	}
	b.Close()
	srvErr := <-errc
	return cc.ConnectionState(), srvErr, cliErr
}

func TestTLSHelpers(t *testing.T) {
	var none *TLS
	if none.VerifiesClients() || none.HasCertificate() || none.HandshakeTimeout() != DefaultTLSTimeout {
		t.Error("nil TLS")
	}
	if _, err := none.ServerConfig(); err == nil {
		t.Error("ServerConfig of nil TLS")
	}
	if !(&TLS{VerifyAndMap: true}).VerifiesClients() || !(&TLS{Verify: true}).VerifiesClients() || (&TLS{}).VerifiesClients() {
		t.Error("VerifiesClients")
	}
	if !(&TLS{Certs: []CertPair{{"c", "k"}}}).HasCertificate() || (&TLS{CAFile: "ca"}).HasCertificate() {
		t.Error("HasCertificate")
	}
	if (&TLS{Timeout: time.Second}).HandshakeTimeout() != time.Second {
		t.Error("HandshakeTimeout")
	}
	if _, err := (&TLS{MinVersion: tls.VersionTLS11}).ServerConfig(); err == nil || err.Error() != "unsupported minimum TLS version: TLS 1.1" {
		t.Errorf("min version 1.1: %v", err)
	}
	if _, err := (&TLS{PinnedCerts: []string{"ABC"}}).ClientConfig(); err == nil {
		t.Error("a malformed pin built")
	}
}
