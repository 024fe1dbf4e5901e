package auth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"testing"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/internal/testcert"
)

// mapOpts is a client listener with verify_and_map and the given users.
func mapOpts(users ...*conf.User) *conf.Options {
	return &conf.Options{
		TLS:           &conf.TLS{VerifyAndMap: true, Verify: true},
		Authorization: conf.Authorization{Users: users},
	}
}

func issue(t *testing.T, s *testcert.Set, name string, spec testcert.Spec) *x509.Certificate {
	t.Helper()
	return s.Issue(t, name, spec).Cert
}

func TestCertMapsByEmailFirst(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	a := mustNew(t, mapOpts(
		&conf.User{Username: "alice@example.com", Permissions: &conf.Permissions{
			Publish: &conf.SubjectPermission{Allow: []string{"alice.>"}},
		}},
		&conf.User{Username: "CN=carol"},
		&conf.User{Username: "carol.example.com"},
	))
	cert := issue(t, s, "alice", testcert.Spec{
		Subject:        pkix.Name{CommonName: "carol"},
		EmailAddresses: []string{"alice@example.com"},
		DNSNames:       []string{"carol.example.com"},
	})
	id, err := a.Authenticate(&ConnectCreds{Cert: cert}, "")
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "alice@example.com" || id.Method != MethodCert || id.Account != conf.GlobalAccount {
		t.Errorf("identity %+v", id)
	}
	if id.Perms == nil || !id.Perms.CanPublish([]byte("alice.x")) || id.Perms.CanPublish([]byte("bob.x")) {
		t.Error("the mapped user's permissions were not applied")
	}

	// Without a matching email the DNS SAN comes before the subject.
	cert = issue(t, s, "carol", testcert.Spec{
		Subject:        pkix.Name{CommonName: "carol"},
		EmailAddresses: []string{"nobody@example.com"},
		DNSNames:       []string{"carol.example.com"},
	})
	if id, err := a.Authenticate(&ConnectCreds{Cert: cert}, ""); err != nil || id.Name != "carol.example.com" {
		t.Errorf("DNS SAN: %v %+v", err, id)
	}
	cert = issue(t, s, "carol2", testcert.Spec{Subject: pkix.Name{CommonName: "carol"}})
	if id, err := a.Authenticate(&ConnectCreds{Cert: cert}, ""); err != nil || id.Name != "CN=carol" {
		t.Errorf("subject: %v %+v", err, id)
	}
}

func TestCertMapsBySubjectDN(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	subject := pkix.Name{CommonName: "dave", Organization: []string{"Acme"}, OrganizationalUnit: []string{"Ops"}}
	cert := issue(t, s, "dave", testcert.Spec{Subject: subject})
	if got := cert.Subject.String(); got != "CN=dave,OU=Ops,O=Acme" {
		t.Fatalf("subject string %q", got)
	}
	for _, name := range []string{
		"CN=dave,OU=Ops,O=Acme",      // Go's form
		"CN=dave, OU=Ops, O=Acme",    // spaces between RDNs
		"cn=dave,ou=Ops,o=Acme",      // types are not case-sensitive
		"O=Acme, OU=Ops, CN=dave",    // most general first
		"CN=dave,OU=Ops,O=Acme\\20 ", // an escaped trailing space is not the same name
	} {
		a := mustNew(t, mapOpts(&conf.User{Username: name}, &conf.User{Username: "other"}))
		id, err := a.Authenticate(&ConnectCreds{Cert: cert}, "")
		if name == "CN=dave,OU=Ops,O=Acme\\20 " {
			wantAuthErr(t, err, ErrNoCertUser)
			continue
		}
		if err != nil || id.Name != name {
			t.Errorf("user %q: %v %+v", name, err, id)
		}
	}
	// Values are compared exactly.
	a := mustNew(t, mapOpts(&conf.User{Username: "CN=Dave,OU=Ops,O=Acme"}))
	_, err := a.Authenticate(&ConnectCreds{Cert: cert}, "")
	wantAuthErr(t, err, ErrNoCertUser)
}

func TestCertMapsDomainComponents(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	dc := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	cert := issue(t, s, "dc", testcert.Spec{Subject: pkix.Name{CommonName: "svc", ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: dc, Value: "example"}, {Type: dc, Value: "org"},
	}}})
	a := mustNew(t, mapOpts(&conf.User{Username: "CN=svc,DC=example,DC=org"}))
	if id, err := a.Authenticate(&ConnectCreds{Cert: cert}, ""); err != nil || id.Name != "CN=svc,DC=example,DC=org" {
		t.Errorf("DC: %v %+v", err, id)
	}
}

func TestCertMapsURI(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	c := issue(t, s, "uri", testcert.Spec{Subject: pkix.Name{CommonName: "x"}})
	c.URIs = []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/svc"}}
	a := mustNew(t, mapOpts(&conf.User{Username: "spiffe://example.org/svc"}, &conf.User{Username: "CN=x"}))
	if id, err := a.Authenticate(&ConnectCreds{Cert: c}, ""); err != nil || id.Name != "spiffe://example.org/svc" {
		t.Errorf("URI: %v %+v", err, id)
	}
}

func TestCertMapFailures(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	a := mustNew(t, mapOpts(
		&conf.User{Username: "CN=erin", Password: "pw"},
		&conf.User{Username: "frank", Password: "pw"},
		&conf.User{Username: "CN=leafonly", AllowedConnectionTypes: []string{"LEAFNODE"}},
	))
	stranger := issue(t, s, "stranger", testcert.Spec{Subject: pkix.Name{CommonName: "stranger"}})
	_, err := a.Authenticate(&ConnectCreds{Cert: stranger}, "")
	wantAuthErr(t, err, ErrNoCertUser)
	// The CONNECT's user does not matter once certificates map.
	_, err = a.Authenticate(&ConnectCreds{User: "frank", Pass: "pw", Cert: stranger}, "")
	wantAuthErr(t, err, ErrNoCertUser)
	_, err = a.Authenticate(&ConnectCreds{User: "frank", Pass: "pw"}, "")
	wantAuthErr(t, err, ErrNoCertUser)

	// A mapped user with a password still needs it.
	erin := issue(t, s, "erin", testcert.Spec{Subject: pkix.Name{CommonName: "erin"}})
	_, err = a.Authenticate(&ConnectCreds{Cert: erin}, "")
	wantAuthErr(t, err, ErrBadCredentials)
	if id, err := a.Authenticate(&ConnectCreds{User: "frank", Pass: "pw", Cert: erin}, ""); err != nil || id.Name != "CN=erin" {
		t.Errorf("erin with password: %v %+v", err, id)
	}

	// Users the connection type excludes are not mapped to.
	leafOnly := issue(t, s, "leafonly", testcert.Spec{Subject: pkix.Name{CommonName: "leafonly"}})
	_, err = a.Authenticate(&ConnectCreds{Cert: leafOnly}, "")
	wantAuthErr(t, err, ErrNoCertUser)
}

func TestNoMappingWithoutVerifyAndMap(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	o := mapOpts(&conf.User{Username: "CN=gina", Password: "pw"})
	o.TLS = &conf.TLS{Verify: true}
	a := mustNew(t, o)
	gina := issue(t, s, "gina", testcert.Spec{Subject: pkix.Name{CommonName: "gina"}})
	_, err := a.Authenticate(&ConnectCreds{Cert: gina}, "")
	wantAuthErr(t, err, ErrBadCredentials)
	if id, err := a.Authenticate(&ConnectCreds{User: "CN=gina", Pass: "pw", Cert: gina}, ""); err != nil || id.Method != MethodUser {
		t.Errorf("user/password: %v %+v", err, id)
	}
	// No users: verify_and_map has nothing to map to, and no
	// authentication is required, as in nats-server.
	a = mustNew(t, &conf.Options{TLS: &conf.TLS{VerifyAndMap: true}})
	if id, err := a.Authenticate(&ConnectCreds{}, ""); err != nil || id.Method != MethodNone {
		t.Errorf("no users: %v %+v", err, id)
	}
}

// TestCertOnlyUsers checks that a user without a password whom the
// leafnode listener maps certificates to cannot be claimed on the client
// listener, which does not map, with an empty password.
func TestCertOnlyUsers(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	o := &conf.Options{
		Authorization: conf.Authorization{Users: []*conf.User{{Username: "CN=hub-peer"}, {Username: "open"}}},
		LeafNode:      conf.LeafNode{Port: 7422, TLS: &conf.TLS{VerifyAndMap: true, Verify: true}},
		NoAuthUser:    "open",
	}
	a := mustNew(t, o)
	_, err := a.Authenticate(&ConnectCreds{User: "CN=hub-peer"}, "")
	wantAuthErr(t, err, ErrBadCredentials)
	// The no_auth_user needs no credentials even so.
	if id, err := a.Authenticate(&ConnectCreds{}, ""); err != nil || id.Name != "open" {
		t.Errorf("no_auth_user: %v %+v", err, id)
	}
	peer := issue(t, s, "peer", testcert.Spec{Subject: pkix.Name{CommonName: "hub-peer"}})
	id, err := a.AuthenticateLeaf(&ConnectCreds{Cert: peer}, "")
	if err != nil || id.Name != "CN=hub-peer" || id.Method != MethodCert {
		t.Errorf("leaf mapped: %v %+v", err, id)
	}
	// Without a leafnode port nothing maps, so the user is an ordinary
	// one.
	o.LeafNode.Port = 0
	a = mustNew(t, o)
	if _, err := a.Authenticate(&ConnectCreds{User: "CN=hub-peer"}, ""); err != nil {
		t.Errorf("no leaf listener: %v", err)
	}
}

func TestLeafUsersMap(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	o := &conf.Options{
		Accounts: []*conf.Account{{Name: "A"}},
		LeafNode: conf.LeafNode{
			Port:  7422,
			TLS:   &conf.TLS{VerifyAndMap: true, Verify: true},
			Users: []*conf.User{{Username: "CN=leaf1,O=Acme", Account: "A"}, {Username: "leaf2@example.com"}},
		},
	}
	a := mustNew(t, o)
	leaf1 := issue(t, s, "leaf1", testcert.Spec{Subject: pkix.Name{CommonName: "leaf1", Organization: []string{"Acme"}}})
	id, err := a.AuthenticateLeaf(&ConnectCreds{User: "ignored", Cert: leaf1}, "")
	if err != nil || id.Name != "CN=leaf1,O=Acme" || id.Account != "A" || id.Method != MethodCert {
		t.Errorf("leaf1: %v %+v", err, id)
	}
	leaf2 := issue(t, s, "leaf2", testcert.Spec{Subject: pkix.Name{CommonName: "leaf2"}, EmailAddresses: []string{"leaf2@example.com"}})
	if id, err := a.AuthenticateLeaf(&ConnectCreds{Cert: leaf2}, ""); err != nil || id.Account != conf.GlobalAccount {
		t.Errorf("leaf2: %v %+v", err, id)
	}
	// Leaf users match names exactly: no DN reordering.
	o.LeafNode.Users[0].Username = "O=Acme,CN=leaf1"
	a = mustNew(t, o)
	_, err = a.AuthenticateLeaf(&ConnectCreds{Cert: leaf1}, "")
	wantAuthErr(t, err, ErrNoCertUser)
	_, err = a.AuthenticateLeaf(&ConnectCreds{}, "")
	wantAuthErr(t, err, ErrNoCertUser)
}

func TestParseDN(t *testing.T) {
	tests := []struct {
		in   string
		want dn
	}{
		{"CN=a", dn{{{"CN", "a"}}}},
		{" CN = a , O=b ", dn{{{"CN", "a"}}, {{"O", "b"}}}},
		{"CN=a+UID=b,O=c", dn{{{"CN", "a"}, {"UID", "b"}}, {{"O", "c"}}}},
		{`CN=a\,b,O=c\2Bd`, dn{{{"CN", "a,b"}}, {{"O", "c+d"}}}},
		{`CN=x\20`, dn{{{"CN", "x "}}}},
		{"CN=a=b", dn{{{"CN", "a=b"}}}},
	}
	for _, tt := range tests {
		got, err := parseDN(tt.in)
		if err != nil || !got.equal(tt.want) || len(got) != len(tt.want) {
			t.Errorf("parseDN(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"alice", "CN=a,b", `CN=a\`, `CN=a\4`, `CN=a\zz`, "CN=#0403", "=a"} {
		if d, err := parseDN(bad); err == nil {
			t.Errorf("parseDN(%q) = %v, want an error", bad, d)
		}
	}
	a, _ := parseDN("CN=a+O=b,C=c")
	b, _ := parseDN("o=b+cn=a,c=c")
	if !a.equal(b) {
		t.Error("multi-valued RDNs in another order, or types in another case, differ")
	}
	c, _ := parseDN("C=c,CN=a+O=b")
	if a.equal(c) || !a.sameRDNs(c) {
		t.Error("reordered RDNs")
	}
}

func TestCertMapCostly(t *testing.T) {
	s := testcert.New(t, t.TempDir())
	cert := issue(t, s, "kim", testcert.Spec{Subject: pkix.Name{CommonName: "kim"}})
	cheap := mustNew(t, mapOpts(&conf.User{Username: "CN=kim", Password: "pw"}))
	if cheap.Costly(&ConnectCreds{Cert: cert, Pass: "pw"}) {
		t.Error("a plain password is not costly")
	}
	dear := mustNew(t, mapOpts(&conf.User{Username: "CN=kim", Password: hash(t, "pw")}))
	if !dear.Costly(&ConnectCreds{Cert: cert, Pass: "pw"}) {
		t.Error("a mapped user's bcrypt password is costly")
	}
	if id, err := dear.Authenticate(&ConnectCreds{Cert: cert, Pass: "pw"}, ""); err != nil || id.Name != "CN=kim" {
		t.Errorf("bcrypt mapped user: %v %+v", err, id)
	}
}
