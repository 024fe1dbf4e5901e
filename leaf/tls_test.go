package leaf_test

import (
	"crypto/x509/pkix"
	"fmt"
	"os"
	"sync"

	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canopy-nats/canopy/internal/natstest"
	"github.com/canopy-nats/canopy/internal/testcert"
)

// Leaf links over TLS, in every pairing of Canopy and nats-server.

// TestLeafTLSTutorial is the seed's tutorial with the leaf port behind TLS
// and the remote dialling tls:// with the hub's CA.
func TestLeafTLSTutorial(t *testing.T) {
	t.Parallel()
	cs := testcert.New(t, t.TempDir())
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			port := natstest.FreePort(t)
			hub := start(t, p.hub, fmt.Sprintf(`
listen: "127.0.0.1:-1"
leafnodes { port: %d, tls { cert_file: %q, key_file: %q } }
authorization { token: "s3cr3t" }
`, port, cs.Server.CertFile, cs.Server.KeyFile))
			lf := start(t, p.leaf, fmt.Sprintf(`
listen: "127.0.0.1:-1"
leafnodes { remotes = [ { url: "tls://s3cr3t@localhost:%d", tls { ca_file: %q } } ] }
`, port, cs.CA.CertFile))
			hc := connect(t, hub, "s3cr3t")
			if _, err := hc.Subscribe("q", func(m *nats.Msg) { m.Respond([]byte("42")) }); err != nil {
				t.Fatal(err)
			}
			flush(t, hc)
			waitSub(t, lf, "q", true)
			lc := connect(t, lf, "")
			reply, err := lc.Request("q", nil, 5*time.Second)
			if err != nil || string(reply.Data) != "42" {
				t.Fatalf("request on leaf: %v %v", err, reply)
			}
			testVolume(t, "tls."+p.name, side{"hub", hub, hc}, side{"leaf", lf, lc})
		})
	}
}

// TestLeafTLSVerify puts mTLS on the leaf port: a remote with a client
// certificate from the hub's CA links, one without does not.
func TestLeafTLSVerify(t *testing.T) {
	t.Parallel()
	cs := testcert.New(t, t.TempDir())
	leafCert := cs.Issue(t, "leaf", testcert.Spec{Subject: pkix.Name{CommonName: "leaf"}})
	hubTLS := fmt.Sprintf(`tls { cert_file: %q, key_file: %q, ca_file: %q, verify: true }`,
		cs.Server.CertFile, cs.Server.KeyFile, cs.CA.CertFile)
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			hub := start(t, p.hub, fmt.Sprintf(`server_name: hub
leafnodes { listen: "127.0.0.1:-1", %s }`, hubTLS))
			good := start(t, p.leaf, fmt.Sprintf(`server_name: good
leafnodes { reconnect: "100ms", remotes = [ { url: "tls://127.0.0.1:%d", tls { ca_file: %q, cert_file: %q, key_file: %q } } ] }`,
				hub.LeafPort(), cs.CA.CertFile, leafCert.CertFile, leafCert.KeyFile))
			waitLinks(t, hub, 1)
			waitLinks(t, good, 1)
			bad := start(t, p.leaf, fmt.Sprintf(`server_name: bad
leafnodes { reconnect: "100ms", remotes = [ { url: "tls://127.0.0.1:%d", tls { ca_file: %q } } ] }`,
				hub.LeafPort(), cs.CA.CertFile))
			// The hub refuses the handshake; the remote says why and
			// keeps trying.
			hub.Log().wait(t, "handshake error", 10*time.Second)
			bad.Log().waitCount(t, "rror", 2, 10*time.Second)
			if n := len(hub.Links()); n != 1 {
				t.Fatalf("hub has %d links, want only the verified one", n)
			}
			if n := len(bad.Links()); n != 0 {
				t.Fatalf("a remote without a certificate has %d links", n)
			}
		})
	}
}

// TestLeafTLSUpgrade: a remote with no tls block dials nats-leaf://, the
// hub's INFO says tls_required, and the remote upgrades, trusting the
// system's roots (here the test CA, through SSL_CERT_FILE: the only test
// of this binary that reads the system roots, which Go loads once).
func TestLeafTLSUpgrade(t *testing.T) {
	// One CA for the whole process: Go reads SSL_CERT_FILE once, so a
	// second run (-count) must find the same CA there.
	upgradeCA.once.Do(func() { upgradeCA.set = testcert.New(t, upgradeCA.dir) })
	cs := upgradeCA.set
	t.Setenv("SSL_CERT_FILE", cs.CA.CertFile)
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			hub := start(t, p.hub, fmt.Sprintf(`server_name: hub
leafnodes { listen: "127.0.0.1:-1", tls { cert_file: %q, key_file: %q } }`, cs.Server.CertFile, cs.Server.KeyFile))
			lf := start(t, p.leaf, fmt.Sprintf(`server_name: leaf
leafnodes { reconnect: "100ms", remotes = [ { url: "nats-leaf://localhost:%d" } ] }`, hub.LeafPort()))
			waitLinks(t, hub, 1)
			waitLinks(t, lf, 1)
			hc := connect(t, hub, "")
			lc := connect(t, lf, "")
			testVolume(t, "upgrade."+p.name, side{"leaf", lf, lc}, side{"hub", hub, hc})
		})
	}
}

// TestLeafTLSHandshakeFirst: both sides configured to handshake before
// INFO.
func TestLeafTLSHandshakeFirst(t *testing.T) {
	t.Parallel()
	cs := testcert.New(t, t.TempDir())
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			hub := start(t, p.hub, fmt.Sprintf(`server_name: hub
leafnodes { listen: "127.0.0.1:-1", tls { cert_file: %q, key_file: %q, handshake_first: true } }`,
				cs.Server.CertFile, cs.Server.KeyFile))
			lf := start(t, p.leaf, fmt.Sprintf(`server_name: leaf
leafnodes { reconnect: "100ms", remotes = [ { url: "tls://127.0.0.1:%d", tls { ca_file: %q, handshake_first: true } } ] }`,
				hub.LeafPort(), cs.CA.CertFile))
			waitLinks(t, hub, 1)
			waitLinks(t, lf, 1)
			hc := connect(t, hub, "")
			lc := connect(t, lf, "")
			testVolume(t, "first."+p.name, side{"hub", hub, hc}, side{"leaf", lf, lc})
		})
	}
}

// TestLeafTLSCredentials links a creds-file remote to an operator-mode hub
// over TLS, as a leaf joins a managed system.
func TestLeafTLSCredentials(t *testing.T) {
	t.Parallel()
	cs := testcert.New(t, t.TempDir())
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			op := newOperatorSetup(t)
			hub := start(t, p.hub, fmt.Sprintf(`server_name: hub
leafnodes { listen: "127.0.0.1:-1", tls { cert_file: %q, key_file: %q } }
%s`, cs.Server.CertFile, cs.Server.KeyFile, op.hubConf))
			lf := start(t, p.leaf, fmt.Sprintf(`server_name: leaf
leafnodes { reconnect: "100ms", remotes = [ { url: "tls://localhost:%d", credentials: %q, tls { ca_file: %q } } ] }`,
				hub.LeafPort(), op.leafCreds, cs.CA.CertFile))
			waitLinks(t, hub, 1)
			waitLinks(t, lf, 1)
			for _, l := range hub.Links() {
				if l.Account != op.account {
					t.Fatalf("hub bound the link to %q, want %q", l.Account, op.account)
				}
			}
			hc := connect(t, hub, "", nats.UserCredentials(op.adminCreds))
			lc := connect(t, lf, "")
			testLinkPermissions(t, hub, lf, hc, lc)
		})
	}
}

// upgradeCA is TestLeafTLSUpgrade's CA, kept for the process in a folder
// TestMain removes.
var upgradeCA struct {
	once sync.Once
	dir  string
	set  *testcert.Set
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "canopy-leaf-ca-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	upgradeCA.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
