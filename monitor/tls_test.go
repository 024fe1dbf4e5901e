package monitor_test

import (
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/internal/testcert"
)

// TestTLSAndCompressionFields checks what /varz, /connz and /leafz say of
// TLS and leaf compression, beside what nats-server says for the same
// configuration.
func TestTLSAndCompressionFields(t *testing.T) {
	cs := testcert.New(t, t.TempDir())
	alice := cs.Issue(t, "alice", testcert.Spec{Subject: pkix.Name{CommonName: "alice"}})
	hubText := fmt.Sprintf(`
listen: "127.0.0.1:-1"
http: "127.0.0.1:-1"
tls { cert_file: %q, key_file: %q, ca_file: %q, verify: true, timeout: 1.5 }
leafnodes { listen: "127.0.0.1:-1", compression: s2_best, tls { cert_file: %q, key_file: %q, timeout: 3 } }
`, cs.Server.CertFile, cs.Server.KeyFile, cs.CA.CertFile, cs.Server.CertFile, cs.Server.KeyFile)

	type varz struct {
		TLSRequired bool    `json:"tls_required"`
		TLSVerify   bool    `json:"tls_verify"`
		TLSTimeout  float64 `json:"tls_timeout"`
		Leaf        struct {
			TLSRequired bool    `json:"tls_required"`
			TLSTimeout  float64 `json:"tls_timeout"`
		} `json:"leaf"`
	}
	type connz struct {
		Conns []connzConn `json:"connections"`
	}
	type leafz struct {
		Leafs []struct {
			Compression string `json:"compression"`
		} `json:"leafs"`
	}
	check := func(t *testing.T, base, clientAddr string, leafPort int) {
		nc, err := nats.Connect("tls://"+clientAddr, nats.RootCAs(cs.CA.CertFile), nats.ClientCert(alice.CertFile, alice.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		spoke := natstest.StartNATS(t, fmt.Sprintf(`leafnodes { remotes = [ { url: "tls://127.0.0.1:%d", compression: s2_fast, tls { ca_file: %q } } ] }`,
			leafPort, cs.CA.CertFile))
		_ = spoke
		var v varz
		getJSON(t, base+"/varz", &v)
		if !v.TLSRequired || !v.TLSVerify || v.TLSTimeout != 1.5 || !v.Leaf.TLSRequired || v.Leaf.TLSTimeout != 3 {
			t.Errorf("/varz: %+v", v)
		}
		var cz connz
		getJSON(t, base+"/connz?auth=true", &cz)
		// nats-server's in-process harness may hold a connection of its
		// own: look at the one that presented alice's certificate.
		i := slices.IndexFunc(cz.Conns, func(c connzConn) bool { return len(c.PeerCerts) > 0 })
		if i < 0 {
			t.Fatalf("/connz: no connection with a peer certificate: %+v", cz)
		}
		c := cz.Conns[i]
		if c.TLSVersion != "1.3" || c.TLSCipher != "TLS_AES_128_GCM_SHA256" || len(c.PeerCerts) != 1 ||
			c.PeerCerts[0].Subject != "CN=alice" || len(c.PeerCerts[0].SPKI) != 64 || len(c.PeerCerts[0].Cert) != 64 {
			t.Errorf("/connz: %+v", c)
		}
		var lz leafz
		natstest.WaitFor(t, wait, "the leaf link in /leafz", func() bool {
			getJSON(t, base+"/leafz", &lz)
			return len(lz.Leafs) == 1
		})
		if lz.Leafs[0].Compression != "s2_best" {
			t.Errorf("/leafz compression %q, want s2_best", lz.Leafs[0].Compression)
		}
	}
	t.Run("canopy", func(t *testing.T) {
		c := natstest.StartCanopy(t, hubText)
		check(t, startMonitor(t, c), c.ClientAddr().String(), c.LeafPort())
	})
	t.Run("nats-server", func(t *testing.T) {
		n := natstest.StartNATS(t, hubText)
		check(t, "http://"+n.MonitorAddr().String(), n.Addr().String(), n.LeafPort())
	})
}

type connzConn struct {
	TLSVersion string `json:"tls_version"`
	TLSCipher  string `json:"tls_cipher_suite"`
	PeerCerts  []struct {
		Subject string `json:"subject"`
		SPKI    string `json:"spki_sha256"`
		Cert    string `json:"cert_sha256"`
	} `json:"tls_peer_certs"`
}
