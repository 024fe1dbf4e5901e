package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/internal/testcert"
)

// TestServeHTTPS: the TLS flags and -ms serve monitoring over HTTPS with
// the flags' certificate.
func TestServeHTTPS(t *testing.T) {
	certs := testcert.New(t, t.TempDir())
	port, httpsPort := freePort(t), freePort(t)
	s := startServer(t, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-ms", fmt.Sprint(httpsPort),
		"--tlscert", certs.Server.CertFile, "--tlskey", certs.Server.KeyFile)
	s.waitFor(t, fmt.Sprintf("Starting https monitor on 127.0.0.1:%d", httpsPort))
	s.waitFor(t, "Server is ready")

	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool()}}}
	resp, err := cl.Get(fmt.Sprintf("https://localhost:%d/varz", httpsPort))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		HTTPSPort   int  `json:"https_port"`
		TLSRequired bool `json:"tls_required"`
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || v.HTTPSPort != httpsPort || !v.TLSRequired {
		t.Errorf("varz: status %d %+v %v", resp.StatusCode, v, err)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestHTTPSNeedsTLS: -ms without TLS stops at start, with nats-server's
// words.
func TestHTTPSNeedsTLS(t *testing.T) {
	code, _, stderr := runMain("-a", "127.0.0.1", "-p", "-1", "-ms", "-1")
	if code == 0 || !strings.Contains(stderr, "TLS cert and key required for HTTPS") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
