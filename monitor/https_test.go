package monitor_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/internal/testcert"
	"github.com/canopy-nats/canopy/monitor"
)

// startHTTPS serves c's monitoring endpoints over HTTPS with the server's
// own tls block and returns the base URL.
func startHTTPS(t *testing.T, c *natstest.Canopy) string {
	t.Helper()
	o := c.Server.Stats().Opts
	cfg, err := o.TLS.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	m := monitor.New(c.Server, quiet{})
	if err := m.StartTLS("127.0.0.1", o.HTTPSPort, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	return "https://" + m.Addr().String()
}

func httpsGet(url string, cfg *tls.Config) (*http.Response, []byte, error) {
	cl := &http.Client{Timeout: wait, Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := cl.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestHTTPSVarz(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	c := natstest.StartCanopy(t, fmt.Sprintf(`
listen: "127.0.0.1:-1"
https_port: -1
tls { cert_file: %q, key_file: %q, timeout: 3 }
`, s.Server.CertFile, s.Server.KeyFile))
	base := startHTTPS(t, c)

	resp, body, err := httpsGet(base+monitor.VarzPath, &tls.Config{RootCAs: s.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "localhost" {
		t.Fatalf("status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	var v monitor.Varz
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if v.HTTPSPort != -1 || v.HTTPPort != 0 || !v.TLSRequired || v.TLSVerify || v.TLSTimeout != 3 {
		t.Errorf("varz https_port %d http_port %d tls_required %v tls_verify %v tls_timeout %v",
			v.HTTPSPort, v.HTTPPort, v.TLSRequired, v.TLSVerify, v.TLSTimeout)
	}
	if v.HTTPReqStats[monitor.VarzPath] != 1 {
		t.Errorf("http_req_stats %v", v.HTTPReqStats)
	}

	// The server's certificate does not verify against the system roots,
	// and plain HTTP gets net/http's 400 for HTTP on an HTTPS port, not
	// the endpoint.
	if _, _, err := httpsGet(base+monitor.VarzPath, &tls.Config{}); err == nil {
		t.Error("HTTPS verified against the system roots")
	}
	plain, err := (&http.Client{Timeout: wait}).Get("http" + base[len("https"):] + monitor.VarzPath)
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the HTTPS port: status %d", plain.StatusCode)
		}
	}
}

// TestHTTPSVerify checks that a tls block with verify makes the monitor
// ask for a client certificate too, as nats-server's does.
func TestHTTPSVerify(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	c := natstest.StartCanopy(t, fmt.Sprintf(`
listen: "127.0.0.1:-1"
https: "127.0.0.1:-1"
tls { cert_file: %q, key_file: %q, ca_file: %q, verify: true }
`, s.Server.CertFile, s.Server.KeyFile, s.CA.CertFile))
	base := startHTTPS(t, c)
	if _, _, err := httpsGet(base+monitor.VarzPath, &tls.Config{RootCAs: s.Pool()}); err == nil {
		t.Error("no client certificate, yet an answer")
	}
	admin := s.Issue(t, "admin", testcert.Spec{Subject: pkix.Name{CommonName: "admin"}})
	resp, body, err := httpsGet(base+monitor.VarzPath, &tls.Config{RootCAs: s.Pool(), Certificates: []tls.Certificate{admin.TLS}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("with a client certificate: %v", err)
	}
	var v monitor.Varz
	if err := json.Unmarshal(body, &v); err != nil || !v.TLSVerify {
		t.Errorf("tls_verify: %v %v", v.TLSVerify, err)
	}
}

func TestStartTLSNeedsConfig(t *testing.T) {
	c := natstest.StartCanopy(t, `listen: "127.0.0.1:-1"`)
	m := monitor.New(c.Server, quiet{})
	if err := m.StartTLS("127.0.0.1", -1, nil); err == nil || err.Error() != "TLS cert and key required for HTTPS" {
		t.Errorf("StartTLS(nil) = %v", err)
	}
}
