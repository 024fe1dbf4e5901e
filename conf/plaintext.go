package conf

import (
	"regexp"
	"slices"
)

// bcryptHash is how a bcrypt hash starts: "$2a$10$", "$2b$12$" and so on.
var bcryptHash = regexp.MustCompile(`^\$2[abxy]\$\d{2}\$`)

// PlaintextPasswords reports whether the client authorization keeps a
// password in clear text: the authorization block's own, or one of a
// user's (in the users list or an account's), as nats-server checks before
// it warns "Plaintext passwords detected, use nkeys or bcrypt" at start.
// Like nats-server it leaves out the leafnode block's credentials, and a
// user without a password whom a certificate can map to (verify_and_map on
// a listener the user may connect to).
func (o *Options) PlaintextPasswords() bool {
	plain := func(p string) bool { return !bcryptHash.MatchString(p) }
	if o.Authorization.Password != "" && plain(o.Authorization.Password) {
		return true
	}
	users := slices.Clone(o.Authorization.Users)
	for _, a := range o.Accounts {
		users = append(users, a.Users...)
	}
	for _, u := range users {
		if u.Nkey != "" {
			continue
		}
		if u.Password == "" && o.certMapsTo(u) {
			continue
		}
		if plain(u.Password) {
			return true
		}
	}
	return false
}

// certMapsTo reports whether a listener maps client certificates to users
// that u may connect through.
func (o *Options) certMapsTo(u *User) bool {
	allowed := func(kinds ...string) bool {
		if u.AllowedConnectionTypes == nil {
			return true
		}
		for _, k := range kinds {
			if slices.Contains(u.AllowedConnectionTypes, k) {
				return true
			}
		}
		return false
	}
	maps := func(t *TLS) bool { return t != nil && t.VerifyAndMap }
	switch {
	case maps(o.TLS) && allowed("STANDARD"):
		return true
	case maps(o.Websocket.TLS) && o.Websocket.Port != 0 && allowed("WEBSOCKET"):
		return true
	}
	l := o.LeafNode
	return maps(l.TLS) && l.Port != 0 && l.Username == "" && l.Nkey == "" && len(l.Users) == 0 &&
		allowed("LEAFNODE", "LEAFNODE_WS")
}
