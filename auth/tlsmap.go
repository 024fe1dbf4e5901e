package auth

import (
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/canopy-nats/canopy/conf"
)

// certMap is what verify_and_map needs, set up by New.
type certMap struct {
	client bool // the client listener's tls block has verify_and_map
	leaf   bool // the leafnode listener's tls block has verify_and_map
	ws     bool // the websocket listener's tls block has verify_and_map
	// leafUsesUsers: leafs map against the users list, because the
	// leafnodes authorization block sets no credentials of its own.
	leafUsesUsers bool
	// dnUsers are the users whose names read as DNs, in name order, for
	// matching a certificate's subject.
	dnUsers []dnUser
	// bcrypt: some user has a bcrypt password, which a mapped user still
	// has to present, so mapping may be costly (see Costly).
	bcrypt bool
}

type dnUser struct {
	u  *user
	dn dn
}

// setupCertMap records which listeners map certificates and parses the
// user names that are DNs once, rather than at each connection.
func (a *Authenticator) setupCertMap(opts *conf.Options) {
	m := &a.certs
	m.client = opts.TLS != nil && opts.TLS.VerifyAndMap
	ln := &opts.LeafNode
	m.leaf = ln.TLS != nil && ln.TLS.VerifyAndMap
	m.leafUsesUsers = m.leaf && ln.Port != 0 && ln.Username == "" && ln.Nkey == "" && len(ln.Users) == 0
	ws := &opts.Websocket
	m.ws = ws.Port != 0 && ws.TLS != nil && ws.TLS.VerifyAndMap
	if !m.client && !m.leaf && !m.ws {
		return
	}
	names := make([]string, 0, len(a.users))
	for name := range a.users {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if isBcrypt(a.users[name].password) {
			m.bcrypt = true
		}
		if d, err := parseDN(name); err == nil && len(d) > 0 {
			m.dnUsers = append(m.dnUsers, dnUser{u: a.users[name], dn: d})
		}
	}
}

// certOnly reports whether u is an identity that only a certificate can
// claim: it has no password and some listener that uses the users list
// maps certificates onto it (nats-server canTLSMap). A connection that
// does not map may then not log in as u with an empty password.
func (a *Authenticator) certOnly(u *user) bool {
	if u.password != "" || u.name == a.noAuthUser {
		return false
	}
	if a.certs.client && connTypeAllowed(u.connTypes, false) == nil {
		return true
	}
	if a.certs.ws && connTypeAllowed(u.connTypes, false, true) == nil {
		return true
	}
	return a.certs.leafUsesUsers && connTypeAllowed(u.connTypes, true) == nil
}

// mapCert finds the user a verified client certificate maps to, in
// nats-server's order (auth.go checkClientTLSCertSubject): the email
// SANs, then the DNS SANs, then the URI SANs, each looked up as a user
// name; then the subject as a DN, equal to a user name read as a DN, or
// equal but for the order of its RDNs; then the subject in Go's RFC 2253
// form with its domain components appended; then that form alone. Only
// the leaf certificate counts. Users the connection type does
// not allow are skipped.
func (a *Authenticator) mapCert(cert *x509.Certificate, leaf bool) (*user, error) {
	if cert == nil {
		return nil, fmt.Errorf("%w: no client certificate", ErrNoCertUser)
	}
	byName := func(name string) *user {
		u := a.users[name]
		if u == nil || connTypeAllowed(u.connTypes, leaf) != nil {
			return nil
		}
		return u
	}
	for _, list := range [][]string{cert.EmailAddresses, cert.DNSNames} {
		for _, name := range list {
			if u := byName(name); u != nil {
				return u, nil
			}
		}
	}
	for _, uri := range cert.URIs {
		if u := byName(uri.String()); u != nil {
			return u, nil
		}
	}
	if subject, err := dnFromSubject(cert.RawSubject); err == nil {
		var candidates []dnUser
		for _, du := range a.certs.dnUsers {
			if connTypeAllowed(du.u.connTypes, leaf) != nil {
				continue
			}
			if du.dn.equal(subject) {
				return du.u, nil
			}
			candidates = append(candidates, du)
		}
		for _, du := range candidates {
			if du.dn.sameRDNs(subject) {
				return du.u, nil
			}
		}
	}
	rdns := cert.Subject.ToRDNSequence().String()
	if dcs := domainComponents(cert.RawSubject); dcs != "" {
		if u := byName(rdns + "," + dcs); u != nil {
			return u, nil
		}
	}
	if u := byName(rdns); u != nil {
		return u, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNoCertUser, rdns)
}

// mapLeafCert is verify_and_map for the leafnodes block's own users: the
// SANs and the subject string are looked up as leaf user names, with no
// DN matching, as in nats-server.
func (a *Authenticator) mapLeafCert(cert *x509.Certificate) (string, *leafUser, error) {
	if cert == nil {
		return "", nil, fmt.Errorf("%w: no client certificate", ErrNoCertUser)
	}
	names := slices.Concat(cert.EmailAddresses, cert.DNSNames)
	for _, uri := range cert.URIs {
		names = append(names, uri.String())
	}
	rdns := cert.Subject.ToRDNSequence().String()
	if dcs := domainComponents(cert.RawSubject); dcs != "" {
		names = append(names, rdns+","+dcs)
	}
	names = append(names, rdns)
	for _, name := range names {
		if u := a.leaf.users[name]; u != nil {
			return name, u, nil
		}
	}
	return "", nil, fmt.Errorf("%w: %q", ErrNoCertUser, rdns)
}
