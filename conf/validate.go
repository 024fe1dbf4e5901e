package conf

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Validate makes the checks across keys that nats-server makes before it
// starts: conflicting authorization settings, users and accounts that must
// exist, operator-mode rules, leafnode rules and limits that contradict
// each other. It works on Options built in code as well as on loaded ones
// (Load calls it), and reads zero values as the defaults Normalize would
// give them. The error joins every problem found, each a *Error whose Key
// names the setting.
func (o *Options) Validate() error {
	errs := o.validate()
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return joinErrors(out)
}

// problems collects cross-key errors.
type problems []*Error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (o *Options) validate() []*Error {
	var p problems
	o.validateServer(&p)
	o.validateAuthorization(&p)
	operatorMode := len(o.TrustedOperators) > 0
	if operatorMode {
		o.validateOperatorMode(&p)
	} else {
		o.validateAccounts(&p)
	}
	o.validateLeafNode(&p, operatorMode)
	o.validateTLS(&p)
	o.validateWebsocket(&p)
	return p
}

// validateTLS checks the listeners' tls blocks and HTTPS monitoring. Each
// block's files are read, as nats-server reads them at startup. A listener
// block without a certificate is refused although nats-server starts with
// one: every handshake on that listener would fail ("no certificates
// configured"), which is a configuration error better reported at start.
func (o *Options) validateTLS(p *problems) {
	if o.TLS != nil {
		if !o.TLS.HasCertificate() {
			p.add("tls", "tls block has no certificate (cert_file and key_file, or certs): every client TLS handshake would fail")
		} else if _, err := o.TLS.ServerConfig(); err != nil {
			p.add("tls", "%v", err)
		}
	}
	if t := o.LeafNode.TLS; t != nil && o.LeafNode.Port != 0 {
		if !t.HasCertificate() {
			p.add("leafnodes.tls", "leafnodes tls block has no certificate (cert_file and key_file, or certs): every leafnode TLS handshake would fail")
		} else if _, err := t.ServerConfig(); err != nil {
			p.add("leafnodes.tls", "%v", err)
		}
	}
	if o.HTTPSPort < -1 || o.HTTPSPort > 65535 {
		p.add("https_port", "port %d is out of range [-1, 65535]", o.HTTPSPort)
	}
	if o.HTTPSPort != 0 {
		// nats-server's words (server.go StartMonitoring).
		if o.HTTPPort != 0 {
			p.add("https_port", "can't specify both HTTP (%v) and HTTPs (%v) ports", o.HTTPPort, o.HTTPSPort)
		}
		if o.TLS == nil {
			p.add("https_port", "TLS cert and key required for HTTPS")
		}
	}
}

func (o *Options) validateServer(p *problems) {
	if strings.ContainsAny(o.ServerName, " \t\r\n") {
		p.add("server_name", "server name cannot contain spaces")
	}
	for _, x := range []struct {
		key  string
		port int
	}{{"port", o.Port}, {"http_port", o.HTTPPort}, {"leafnodes.port", o.LeafNode.Port}} {
		if x.port < -1 || x.port > 65535 {
			p.add(x.key, "port %d is out of range [-1, 65535]", x.port)
		}
	}
	payload := int64(orDefault(o.MaxPayload, DefaultMaxPayload))
	pending := orDefault(o.MaxPending, DefaultMaxPending)
	if payload > pending {
		p.add("max_payload", "max_payload (%d) cannot be larger than max_pending (%d)", payload, pending)
	}
	ldm := orDefault(o.LameDuckDuration, DefaultLameDuck)
	if grace := orDefault(o.LameDuckGracePeriod, DefaultLameDuckGrace); grace >= ldm {
		p.add("lame_duck_grace_period", "lame duck grace period (%v) must be shorter than the lame duck duration (%v)", grace, ldm)
	}
	if o.Loops > 256 {
		p.add("loops", "loops %d is more than the 256 event loops gnet allows", o.Loops)
	}
}

// validateAuthorization checks the client authorization: one way of
// authenticating per block, unique users, a no_auth_user that exists.
func (o *Options) validateAuthorization(p *problems) {
	a := &o.Authorization
	single := a.Username != "" || a.Password != ""
	if a.Token != "" && single {
		p.add("authorization", "cannot have both a token and a user/password")
	}
	if len(a.Users) > 0 {
		if single {
			p.add("authorization", "cannot have both a single user/password and a users list")
		}
		if a.Token != "" {
			p.add("authorization", "cannot have both a token and a users list")
		}
	}
	accountUsers := false
	for _, acc := range o.Accounts {
		if len(acc.Users) > 0 {
			accountUsers = true
		}
	}
	if accountUsers {
		if single {
			p.add("accounts", "cannot have a single user/password in authorization and users in accounts")
		}
		if a.Token != "" {
			p.add("accounts", "cannot have a token in authorization and users in accounts")
		}
	}

	// Users and nkeys are one namespace across the authorization block
	// and every account, since a CONNECT names only the user.
	seen := make(map[string]bool)
	check := func(key string, u *User) {
		id := u.Username
		if u.Nkey != "" {
			id = u.Nkey
		}
		if seen[id] {
			p.add(key, "duplicate user %q", id)
		}
		seen[id] = true
		if u.Nkey == "" && u.Username == "" {
			p.add(key, "user entry needs a user or an nkey")
		}
		if u.Nkey != "" && (u.Username != "" || u.Password != "") {
			p.add(key, "nkey user %q does not take a user or a password", u.Nkey)
		}
		if msg := checkPermissions(u.Permissions); msg != "" {
			p.add(key, "invalid permissions for user %q: %s", id, msg)
		}
	}
	for _, u := range a.Users {
		check("authorization.users", u)
	}
	for _, acc := range o.Accounts {
		for _, u := range acc.Users {
			check("accounts", u)
		}
	}

	if o.NoAuthUser != "" {
		switch {
		case len(o.TrustedOperators) > 0:
			p.add("no_auth_user", "no_auth_user cannot be used with trusted operators")
		case len(seen) == 0:
			p.add("no_auth_user", "no_auth_user %q is set, but no users are defined", o.NoAuthUser)
		case !seen[o.NoAuthUser]:
			p.add("no_auth_user", "no_auth_user %q is not a user or nkey of the authorization block or of an account", o.NoAuthUser)
		}
	}
}

// checkPermissions returns why a permission set is invalid, or "".
func checkPermissions(perm *Permissions) string {
	if perm == nil {
		return ""
	}
	for _, x := range []struct {
		what   string
		sp     *SubjectPermission
		queues bool
	}{{"publish", perm.Publish, false}, {"subscribe", perm.Subscribe, true}} {
		if x.sp == nil {
			continue
		}
		for _, s := range slices.Concat(x.sp.Allow, x.sp.Deny) {
			if msg := checkPermissionSubject(s, x.queues); msg != "" {
				return x.what + ": " + msg
			}
		}
	}
	return ""
}

// validateOperatorMode checks the rules of trusted operators: accounts and
// users come from JWTs only, through a resolver Canopy supports.
func (o *Options) validateOperatorMode(p *problems) {
	switch o.Resolver {
	case "":
		p.add("operator", "operator mode needs an account resolver: Canopy supports resolver: MEMORY with resolver_preload, or a full or cache resolver block")
	case "MEMORY", "FULL", "CACHE":
	default:
		p.add("resolver", "resolver %q is not supported by Canopy; use MEMORY with resolver_preload, or a full or cache resolver block", o.Resolver)
	}
	if len(o.Accounts) > 0 {
		p.add("accounts", "accounts cannot be configured directly with trusted operators")
	}
	if len(o.Authorization.Users) > 0 || o.Authorization.Username != "" || o.Authorization.Token != "" {
		p.add("authorization", "users cannot be configured directly with trusted operators")
	}
	if len(o.TrustedKeys) > 0 {
		p.add("trusted", "cannot have both trusted keys and trusted operators")
	}
	var systems []string
	for _, tok := range o.TrustedOperators {
		claims, err := jwt.DecodeOperatorClaims(tok)
		if err != nil {
			p.add("operator", "invalid operator JWT: %v", err)
			continue
		}
		if claims.SystemAccount != "" {
			systems = append(systems, claims.SystemAccount)
		}
	}
	sys := o.SystemAccount
	if sys != "" && len(systems) > 0 && !slices.Contains(systems, sys) {
		p.add("system_account", "system_account %q is not the one the operator JWT names (%s)", sys, strings.Join(systems, ", "))
	}
	if sys == "" && len(systems) > 0 {
		sys = systems[0]
	}
	// The memory resolver knows only the preloaded accounts, and the
	// server cannot start without its system account.
	if o.Resolver == "MEMORY" && sys != "" && sys != SystemAccount && o.ResolverPreload[sys] == "" {
		p.add("resolver_preload", "system account %s is not in resolver_preload; the MEMORY resolver knows only preloaded accounts", sys)
	}
}

// validateAccounts checks config-mode accounts: the system account, and
// exports and imports that name accounts which exist and allow them.
func (o *Options) validateAccounts(p *problems) {
	byName := make(map[string]*Account, len(o.Accounts))
	for _, a := range o.Accounts {
		if a.Name == GlobalAccount {
			p.add("accounts", "%q is a reserved account name", a.Name)
		}
		if byName[a.Name] != nil {
			p.add("accounts", "duplicate account %q", a.Name)
		}
		byName[a.Name] = a
	}
	// Even $SYS must be defined once it is named: nats-server creates it
	// on its own only when system_account is not set.
	if s := o.SystemAccount; s != "" && byName[s] == nil {
		p.add("system_account", "system account %q is not a configured account", s)
	}
	for _, a := range o.Accounts {
		for _, x := range a.Exports {
			for _, name := range x.Accounts {
				if byName[name] == nil {
					p.add("accounts", "account %q exports %q to account %q, which is not defined", a.Name, x.Subject, name)
				}
			}
		}
		services := make(map[string]string) // local subject -> exporting account
		for _, im := range a.Imports {
			kind := importKind(im)
			from := byName[im.Account]
			if from == nil {
				// nats-server's words (opts.go parseAccounts), so the two
				// servers refuse a file alike.
				p.add("accounts", "%q account not defined for %s import", im.Account, kind)
				continue
			}
			if !exported(from, a.Name, im) {
				p.add("accounts", "Error adding %s import %q: %s import not authorized", kind, im.Subject, kind)
			}
			if im.Service {
				to := cmp.Or(im.To, im.Subject)
				if prev, dup := services[to]; dup && prev == im.Account {
					p.add("accounts", "account %q imports service subject %q twice from account %q", a.Name, to, im.Account)
				}
				services[to] = im.Account
			}
		}
	}
}

func importKind(im *Import) string {
	if im.Service {
		return "service"
	}
	return "stream"
}

// exported reports whether from exports what im imports to account name:
// an export of the same kind whose subject covers the import's, public or
// naming the importer.
func exported(from *Account, name string, im *Import) bool {
	for _, x := range from.Exports {
		if x.Service != im.Service || !subsetOf(im.Subject, x.Subject) {
			continue
		}
		if len(x.Accounts) == 0 || slices.Contains(x.Accounts, name) {
			return true
		}
	}
	return false
}

// validateLeafNode checks the leafnodes block.
func (o *Options) validateLeafNode(p *problems, operatorMode bool) {
	ln := &o.LeafNode
	if len(ln.Users) > 0 {
		if ln.Username != "" {
			p.add("leafnodes.authorization", "cannot have both a single user/password and a users list")
		}
		if ln.Nkey != "" {
			p.add("leafnodes.authorization", "cannot have both a single nkey and a users list")
		}
		seen := make(map[string]bool)
		for _, u := range ln.Users {
			if seen[u.Username] {
				p.add("leafnodes.authorization.users", "duplicate user %q in leafnode authorization", u.Username)
			}
			seen[u.Username] = true
		}
	}
	if ln.MinVersion != "" {
		if msg := checkMinVersion(ln.MinVersion); msg != "" {
			p.add("leafnodes.min_version", "%s", msg)
		}
	}
	if ln.Compression != "" {
		if _, ok := compressionMode(ln.Compression); !ok {
			p.add("leafnodes.compression", "unsupported compression mode %q", ln.Compression)
		}
	}

	if operatorMode {
		if len(ln.Users) > 0 {
			p.add("leafnodes.authorization", "leafnode users cannot be configured with trusted operators")
		}
		if ln.Port != 0 && ln.Account != "" && !nkeys.IsValidPublicAccountKey(ln.Account) {
			p.add("leafnodes.authorization", "with trusted operators, the leafnode account must be an account public key, not %q", ln.Account)
		}
	} else {
		known := map[string]bool{"": true, GlobalAccount: true}
		for _, a := range o.Accounts {
			known[a.Name] = true
		}
		if o.SystemAccount == "" {
			known[SystemAccount] = true
		}
		if !known[ln.Account] {
			p.add("leafnodes.authorization", "leafnode authorization names account %q, which is not defined", ln.Account)
		}
		for _, u := range ln.Users {
			if !known[u.Account] {
				p.add("leafnodes.authorization.users", "leafnode user %q names account %q, which is not defined", u.Username, u.Account)
			}
		}
		for _, r := range ln.Remotes {
			if !known[r.LocalAccount] {
				p.add("leafnodes.remotes", "leafnode remote %s: that account is not defined", remoteName(r))
			}
		}
	}

	names := make(map[string]bool)
	for _, r := range ln.Remotes {
		name := remoteName(r)
		if operatorMode && !nkeys.IsValidPublicAccountKey(r.LocalAccount) {
			p.add("leafnodes.remotes", "with trusted operators, leafnode remote %s needs an account public key as its account", name)
		}
		if r.Credentials != "" && r.Seed != "" {
			p.add("leafnodes.remotes", "leafnode remote %s cannot have both credentials and an nkey seed", name)
		}
		ws := 0
		for _, u := range r.URLs {
			if s := strings.ToLower(u.Scheme); s == "ws" || s == "wss" {
				ws++
			}
		}
		if ws > 0 && ws < len(r.URLs) {
			p.add("leafnodes.remotes", "remote leaf node configuration cannot have a mix of websocket and non-websocket urls: %s", name)
		}
		for _, u := range r.URLs {
			if s := strings.ToLower(u.Scheme); s != "nats-leaf" && s != "nats" && s != "tls" && s != "ws" && s != "wss" {
				p.add("leafnodes.remotes", "leafnode remote %s: scheme %q is not supported (use nats-leaf://, nats://, tls://, ws:// or wss://)", name, u.Scheme)
			}
		}
		if r.TLS != nil {
			if _, err := r.TLS.ClientConfig(); err != nil {
				p.add("leafnodes.remotes", "leafnode remote %s: tls: %v", name, err)
			}
		}
		for _, s := range slices.Concat(r.DenyImports, r.DenyExports) {
			if msg := checkPermissionSubject(s, false); msg != "" {
				p.add("leafnodes.remotes", "leafnode remote %s: %s", name, msg)
			}
		}
		if r.Compression != "" {
			if _, ok := compressionMode(r.Compression); !ok {
				p.add("leafnodes.remotes", "leafnode remote %s: unsupported compression mode %q", name, r.Compression)
			}
		}
		if id := remoteIdentity(r); names[id] {
			p.add("leafnodes.remotes", "duplicate leafnode remote %s", name)
		} else {
			names[id] = true
		}
	}
}

// remoteName names a remote in messages: its URLs without user
// information, its account and its credentials file.
func remoteName(r *Remote) string {
	urls := make([]string, len(r.URLs))
	for i, u := range r.URLs {
		urls[i] = redact(u)
	}
	s := fmt.Sprintf("[%s] account %q", strings.Join(urls, " "), cmp.Or(r.LocalAccount, GlobalAccount))
	if r.Credentials != "" {
		s += fmt.Sprintf(" credentials %q", r.Credentials)
	}
	return s
}

// remoteIdentity tells remotes apart: two are the same when their URLs
// (with user information), account and credentials or seed agree, as in
// nats-server.
func remoteIdentity(r *Remote) string {
	urls := make([]string, len(r.URLs))
	for i, u := range r.URLs {
		urls[i] = u.String()
	}
	return strings.Join(urls, " ") + "\x00" + cmp.Or(r.LocalAccount, GlobalAccount) + "\x00" + r.Credentials + "\x00" + r.Seed
}

// redact shows a URL with its user information, which may be a token or a
// password, replaced.
func redact(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = nil
	s := c.String()
	if i := strings.Index(s, "://"); i >= 0 {
		return s[:i+3] + "[REDACTED]@" + s[i+3:]
	}
	return s
}

// orDefault returns v, or def when v is zero.
func orDefault[T int32 | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// validateWebsocket is the part of nats-server validateWebsocketOptions
// that needs the rest of the file: the block's no_auth_user must be a
// configured user, and its single user or token cannot stand beside users.
func (o *Options) validateWebsocket(p *problems) {
	ws := &o.Websocket
	if ws.Port == 0 {
		return
	}
	users := o.Authorization.Users
	for _, a := range o.Accounts {
		users = append(users, a.Users...)
	}
	if n := ws.NoAuthUser; n != "" {
		found := false
		for _, u := range users {
			if u.Username == n || u.Nkey == n {
				found = true
				break
			}
		}
		if !found {
			p.add("websocket.no_auth_user", "no_auth_user: %q not present as user or nkey in authorization block or account configuration", n)
		}
	}
	if len(users) > 0 {
		if ws.Username != "" {
			p.add("websocket.authorization", "websocket authentication username not compatible with presence of users/nkeys")
		}
		if ws.Token != "" {
			p.add("websocket.authorization", "websocket authentication token not compatible with presence of users/nkeys")
		}
	}
}
