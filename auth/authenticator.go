package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canopy-nats/canopy/conf"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Authenticator decides who a connection is. It is built once from the
// configuration by New, is immutable afterwards, and all its methods are
// safe for concurrent use from any event loop.
//
// Authenticate costs well under a microsecond for tokens, plain passwords
// and no_auth, about 0.1 ms per Ed25519 verification on the 2-core VM (one
// for an nkey user, two for a user JWT: its own signature and the nonce's),
// but a bcrypt password costs what its cost factor says (about 60 ms at
// cost 10 there). A server that cannot afford to stall an event loop that
// long should authenticate bcrypt users off the loop.
type Authenticator struct {
	authRequired bool // credentials are checked at all
	infoRequired bool // auth_required in INFO (false with no_auth_user)
	needNonce    bool
	noAuthUser   string
	// sysOnlyNoAuth: the only configured account is the system account and
	// there is no authorization block, so clients without credentials land
	// in $G (nats-server configureAccounts' synthesized no_auth_user).
	sysOnlyNoAuth bool

	token              string
	username, password string
	users              map[string]*user // by user name
	nkeys              map[string]*user // by public nkey

	leaf leafAuth
	// ws is the websocket block's authorization (see authWebsocket).
	ws wsAuth
	// certs is verify_and_map: which listeners map client certificates
	// to users.
	certs certMap

	operator    bool
	trusted     map[string]struct{} // operator keys allowed to sign accounts
	strict      map[string]struct{} // operator keys whose accounts must use signing keys
	strictOps   map[string]struct{} // operators that require their signing keys
	fetch       Fetcher             // looks up unknown accounts (cache resolver)
	accounts    map[string]*AccountInfo
	badAccounts map[string]error
	system      string
	maxPayload  int
	maxSubs     int
	warnings    []string
	now         func() time.Time
}

// user is one configured user or nkey user.
type user struct {
	name     string // user name, or the public nkey
	password string
	nkey     bool
	account  *AccountInfo
	perms    *Permissions
	// connTypes restricts the kinds of connection (upper case); nil: any.
	connTypes []string
}

// leafAuth is the leafnodes { authorization { ... } } block. Accounts are
// kept by name: in operator mode they are public keys that may not resolve,
// which fails the leaf's authentication, not the configuration.
type leafAuth struct {
	username, password string
	nkey               string
	account            string // for the single user, nkey, and no-auth cases
	users              map[string]*leafUser
}

type leafUser struct {
	password, account string
}

// New builds an Authenticator from opts, which it does not keep or modify.
// It validates what nats-server validates at startup and words errors the
// same way, wrapped in ErrConfig: conflicting authorization settings,
// duplicate or invalid users, invalid permission subjects, a no_auth_user
// that names nobody, undefined accounts in exports, imports and leafnode
// authorization, unauthorised imports, operator JWTs that do not decode,
// preloaded account JWTs that do not decode.
//
// A preloaded account JWT that decodes but is not signed by a trusted
// operator (or is otherwise invalid) is not an error, as in nats-server:
// users of that account fail to authenticate ("account validation
// failed"), and Warnings says why.
func New(opts *conf.Options) (*Authenticator, error) {
	return NewResolved(opts, nil, nil)
}

// NewResolved is New for a server with a directory resolver: jwts are
// the account JWTs its store holds (by account key; they take precedence
// over resolver_preload's), and fetch, when not nil, looks up accounts
// that neither knows.
func NewResolved(opts *conf.Options, jwts map[string]string, fetch Fetcher) (*Authenticator, error) {
	a := &Authenticator{
		accounts:    map[string]*AccountInfo{},
		badAccounts: map[string]error{},
		maxSubs:     Unlimited,
		now:         time.Now,
	}
	a.maxPayload = int(opts.MaxPayload)
	if a.maxPayload == 0 {
		a.maxPayload = conf.DefaultMaxPayload
	}
	if opts.MaxSubs > 0 {
		a.maxSubs = opts.MaxSubs
	}
	a.operator = len(opts.TrustedOperators) > 0 || len(opts.TrustedKeys) > 0
	var err error
	if a.operator {
		err = a.setupOperator(opts, jwts)
	} else {
		err = a.setupConfig(opts)
	}
	if err == nil {
		err = a.setupLeaf(opts)
	}
	if err == nil {
		a.setupCertMap(opts)
	}
	if err != nil {
		if errors.Is(err, ErrConfig) {
			return nil, err
		}
		return nil, &chain{ErrConfig, err}
	}
	a.setupWebsocket(opts)
	// Set last: the checks New makes (the system account) never fetch.
	a.fetch = fetch
	a.needNonce = a.operator || len(a.nkeys) > 0
	a.infoRequired = a.authRequired && a.noAuthUser == ""
	return a, nil
}

// setupConfig is config mode: users, nkeys, token, single user, accounts.
func (a *Authenticator) setupConfig(opts *conf.Options) error {
	az := &opts.Authorization
	if (az.Username != "" || az.Password != "") && az.Token != "" {
		return errors.New("Cannot have a user/pass and token")
	}
	accts, sys, err := buildConfigAccounts(opts)
	if err != nil {
		return err
	}
	a.accounts, a.system = accts, sys
	a.token, a.username, a.password = az.Token, az.Username, az.Password

	acctUsers := false
	for _, ca := range opts.Accounts {
		if ca != nil && len(ca.Users) > 0 {
			acctUsers = true
		}
	}
	if az.Users != nil || acctUsers {
		switch {
		case az.Username != "" && az.Users != nil:
			return errors.New("Can not have a single user/pass and a users array")
		case az.Token != "" && az.Users != nil:
			return errors.New("Can not have a token and a users array")
		case az.Username != "":
			return errors.New("Can not have a single user/pass and accounts")
		case az.Token != "":
			return errors.New("Can not have a token and accounts")
		}
	}
	a.users, a.nkeys = map[string]*user{}, map[string]*user{}
	var defPerms *Permissions
	if az.DefaultPermissions != nil {
		if defPerms, err = Compile(az.DefaultPermissions); err != nil {
			return fmt.Errorf("invalid default permissions: %w", err)
		}
	}
	for _, u := range az.Users {
		if err := a.addUser(u, conf.GlobalAccount, defPerms); err != nil {
			return err
		}
	}
	for _, ca := range opts.Accounts {
		if ca == nil {
			continue
		}
		for _, u := range ca.Users {
			if err := a.addUser(u, ca.Name, nil); err != nil {
				return err
			}
		}
	}
	a.authRequired = len(a.users) > 0 || len(a.nkeys) > 0 || a.username != "" || a.token != "" || az.Users != nil
	if err := a.setupNoAuthUser(opts); err != nil {
		return err
	}
	// An accounts block holding only the system account, and no
	// authorization block: clients without credentials still get in, to $G.
	if opts.NoAuthUser == "" && len(opts.Accounts) == 1 && opts.Accounts[0] != nil &&
		opts.Accounts[0].Name == a.system && az.Users == nil && az.Username == "" &&
		az.Token == "" && az.DefaultPermissions == nil {
		a.sysOnlyNoAuth = true
	}
	return nil
}

// addUser adds a users-list entry. accountDefault is the account of the
// list it came from.
func (a *Authenticator) addUser(cu *conf.User, accountDefault string, defPerms *Permissions) error {
	if cu == nil {
		return nil
	}
	u := &user{name: cu.Username, password: cu.Password}
	kind := "user"
	if cu.Nkey != "" {
		if cu.Username != "" {
			return fmt.Errorf("user %q can not have both a user name and an nkey", cu.Username)
		}
		if !nkeys.IsValidPublicUserKey(cu.Nkey) {
			return fmt.Errorf("Not a valid public nkey for a user: %q", cu.Nkey)
		}
		u.name, u.nkey, kind = cu.Nkey, true, "nkey"
	} else if cu.Username == "" {
		return errors.New("User entry requires a user")
	}
	for _, ct := range cu.AllowedConnectionTypes {
		up := strings.ToUpper(ct)
		switch up {
		case jwt.ConnectionTypeStandard, jwt.ConnectionTypeWebsocket, jwt.ConnectionTypeLeafnode,
			jwt.ConnectionTypeLeafnodeWS, jwt.ConnectionTypeMqtt, jwt.ConnectionTypeMqttWS,
			jwt.ConnectionTypeInProcess:
			u.connTypes = append(u.connTypes, up)
		default:
			return fmt.Errorf("unknown connection type %q", ct)
		}
	}
	if _, dup := a.users[u.name]; dup {
		return fmt.Errorf("Duplicate user %q detected", u.name)
	}
	if _, dup := a.nkeys[u.name]; dup {
		return fmt.Errorf("Duplicate nkey %q detected", u.name)
	}
	acc := cu.Account
	if acc == "" {
		acc = accountDefault
	}
	if u.account = a.accounts[acc]; u.account == nil {
		return fmt.Errorf("%w: %q for %s %q", ErrUnknownAccount, acc, kind, u.name)
	}
	if cu.Permissions != nil {
		p, err := Compile(cu.Permissions)
		if err != nil {
			return fmt.Errorf("invalid permissions for %s %q: %w", kind, u.name, err)
		}
		u.perms = p
	} else {
		u.perms = defPerms
	}
	if u.nkey {
		a.nkeys[u.name] = u
	} else {
		a.users[u.name] = u
	}
	return nil
}

// setupNoAuthUser is nats-server validateNoAuthUser.
func (a *Authenticator) setupNoAuthUser(opts *conf.Options) error {
	n := opts.NoAuthUser
	if n == "" {
		return nil
	}
	if len(a.users) == 0 && len(a.nkeys) == 0 {
		return fmt.Errorf(`no_auth_user: "%s" present, but users/nkeys are not defined`, n)
	}
	if a.users[n] == nil && a.nkeys[n] == nil {
		return fmt.Errorf(`no_auth_user: "%s" not present as user or nkey in authorization block or account configuration`, n)
	}
	a.noAuthUser = n
	return nil
}

// setupOperator is operator mode (nats-server validateTrustedOperators,
// processTrustedKeys, configureResolver).
func (a *Authenticator) setupOperator(opts *conf.Options, jwts map[string]string) error {
	switch {
	case len(opts.TrustedOperators) > 0 && len(opts.TrustedKeys) > 0:
		return errors.New("conflicting options for 'TrustedKeys' and 'TrustedOperators'")
	case opts.NoAuthUser != "":
		return errors.New("no_auth_user not compatible with Trusted Operator")
	case len(opts.Accounts) > 0:
		return errors.New("operators do not allow Accounts to be configured directly")
	case len(opts.Authorization.Users) > 0:
		return errors.New("operators do not allow users to be configured directly")
	}
	if len(opts.TrustedOperators) > 0 {
		if opts.Resolver == "" {
			return errors.New("operators require an account resolver to be configured")
		}
	}
	switch r := strings.ToUpper(strings.TrimSpace(opts.Resolver)); r {
	case "", "MEM", "MEMORY", "FULL", "CACHE":
	default:
		return fmt.Errorf("resolver %q is not supported, only MEMORY, FULL and CACHE", opts.Resolver)
	}
	a.trusted, a.strict, a.strictOps = map[string]struct{}{}, map[string]struct{}{}, map[string]struct{}{}
	var ops []*jwt.OperatorClaims
	for _, s := range opts.TrustedOperators {
		opc, err := readOperatorJWT(s)
		if err != nil {
			return fmt.Errorf("error parsing operator JWT: %v", err)
		}
		if err := checkServerVersion(opc); err != nil {
			return err
		}
		ops = append(ops, opc)
		if !opc.StrictSigningKeyUsage {
			a.trusted[opc.Subject] = struct{}{}
		} else {
			a.strictOps[opc.Subject] = struct{}{}
		}
		for _, k := range opc.SigningKeys {
			a.trusted[k] = struct{}{}
			if opc.StrictSigningKeyUsage {
				a.strict[k] = struct{}{}
			}
		}
	}
	for _, k := range opts.TrustedKeys {
		a.trusted[k] = struct{}{}
	}
	for k := range a.trusted {
		if !validOperatorKey(k) {
			return fmt.Errorf("trusted Keys %q are required to be a valid public operator nkey", k)
		}
	}
	a.system = opts.SystemAccount
	if len(ops) > 0 {
		opSys := ""
		found := false
		for _, op := range ops {
			if op.SystemAccount != "" && opSys == "" {
				opSys = op.SystemAccount
			}
			if a.system != "" && op.SystemAccount == a.system {
				found = true
			}
		}
		switch {
		case a.system != "" && opSys != "" && !found:
			return errors.New("system_account in config and operator JWT must be identical")
		case a.system == "" && len(ops) == 1:
			a.system = ops[0].SystemAccount
		}
	}
	if a.system == "" {
		a.warnf("Trusted Operators should utilize a System Account")
		a.system = conf.SystemAccount
	}

	// Preloaded accounts: decode errors are fatal, trust problems are not.
	// A directory resolver's own JWTs replace preloaded ones.
	all := make(map[string]string, len(opts.ResolverPreload)+len(jwts))
	for k, v := range opts.ResolverPreload {
		all[k] = v
	}
	for k, v := range jwts {
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	claims := map[string]*jwt.AccountClaims{}
	for _, k := range keys {
		ac, err := jwt.DecodeAccountClaims(strings.TrimSpace(all[k]))
		if err != nil {
			if _, stored := jwts[k]; stored {
				a.badAccounts[k] = fmt.Errorf("%w: %v", ErrAccountValidation, err)
				a.warnf("Stored account [%s] not valid: %v", k, err)
				continue
			}
			return fmt.Errorf("preload account error for %q: %v", k, err)
		}
		info, err := a.buildJWTAccount(k, ac)
		if err != nil {
			a.badAccounts[k] = err
			a.warnf("Preloaded account [%s] not valid: %v", k, err)
			continue
		}
		vr := jwt.CreateValidationResults()
		ac.Validate(vr)
		if vr.IsBlocking(true) {
			a.warnf("Account [%s] has validation issues: %v", k, vr.Errors())
		}
		info.System = k == a.system
		a.accounts[k] = info
		claims[k] = ac
	}
	for _, k := range keys {
		ac := claims[k]
		if ac == nil {
			continue
		}
		for _, s := range jwtImportSpecs(a.accounts[k], ac) {
			if err := resolveImport(a.accounts, s); err != nil {
				a.warnf("account %s: %v", k, err)
			}
		}
	}
	// nats-server resolves a named system account at startup and refuses to
	// start when it cannot.
	if a.system != conf.SystemAccount || opts.SystemAccount != "" {
		if _, err := a.jwtAccount(a.system); err != nil {
			return fmt.Errorf("error resolving system account: %w", err)
		}
	} else if a.accounts[a.system] == nil {
		a.accounts[a.system] = &AccountInfo{Name: a.system, System: true, MaxConnections: Unlimited,
			MaxLeafNodes: Unlimited, MaxSubs: Unlimited, MaxPayload: Unlimited}
	}
	// $G exists in operator mode too, although no JWT user can bind to it.
	if a.accounts[conf.GlobalAccount] == nil {
		a.accounts[conf.GlobalAccount] = &AccountInfo{Name: conf.GlobalAccount, MaxConnections: Unlimited,
			MaxLeafNodes: Unlimited, MaxSubs: Unlimited, MaxPayload: Unlimited}
	}
	a.authRequired = true
	return nil
}

// setupLeaf is the leafnodes authorization block (nats-server
// validateLeafNodeAuthOptions and validateLeafNode).
func (a *Authenticator) setupLeaf(opts *conf.Options) error {
	ln := &opts.LeafNode
	if len(ln.Users) > 0 {
		if ln.Username != "" {
			return errors.New("can not have a single user/pass and a users array")
		}
		if ln.Nkey != "" {
			return errors.New("can not have a single nkey and a users array")
		}
	}
	if ln.Nkey != "" && !nkeys.IsValidPublicKey(ln.Nkey) {
		return errors.New("Not a valid public nkey for leafnode authorization")
	}
	// In config mode every account must exist now; in operator mode an
	// unknown key only fails the leaf that tries to use it (nats-server
	// validateLeafNode checks config mode only).
	check := func(name string) error {
		if name == "" || a.operator || a.accounts[name] != nil {
			return nil
		}
		return fmt.Errorf("cannot find local account %q specified in leafnode authorization", name)
	}
	a.leaf = leafAuth{username: ln.Username, password: ln.Password, nkey: ln.Nkey, account: ln.Account}
	if err := check(ln.Account); err != nil {
		return err
	}
	if len(ln.Users) > 0 {
		a.leaf.users = map[string]*leafUser{}
	}
	for _, cu := range ln.Users {
		if cu == nil {
			continue
		}
		if _, dup := a.leaf.users[cu.Username]; dup {
			return fmt.Errorf("duplicate user %q detected in leafnode authorization", cu.Username)
		}
		if err := check(cu.Account); err != nil {
			return err
		}
		a.leaf.users[cu.Username] = &leafUser{password: cu.Password, account: cu.Account}
	}
	return nil
}

func (a *Authenticator) warnf(format string, args ...any) {
	a.warnings = append(a.warnings, fmt.Sprintf(format, args...))
}

// Warnings returns what New found worth logging but not fatal (invalid
// preloaded accounts, imports that could not be resolved in operator
// mode, a missing system account).
func (a *Authenticator) Warnings() []string { return slices.Clone(a.warnings) }

// Required reports auth_required for a client INFO: whether credentials are
// required. It is false when no_auth_user is set, since clients may then
// connect without any.
func (a *Authenticator) Required() bool { return a.infoRequired }

// NeedNonce reports whether client INFOs must carry a nonce (nkey users or
// operator mode). Leafnode INFOs always carry one.
func (a *Authenticator) NeedNonce() bool { return a.needNonce }

// NewNonce returns a fresh nonce (see the package function).
func (a *Authenticator) NewNonce() string { return NewNonce() }

// Operator reports whether the server runs in operator (JWT) mode.
func (a *Authenticator) Operator() bool { return a.operator }

// SystemAccount names the system account: the configured system_account,
// the operator's, or $SYS.
func (a *Authenticator) SystemAccount() string { return a.system }

// Accounts returns every usable account, sorted by name: $G, the system
// account and the configured ones (config mode) or the preloaded account
// JWTs that validated (operator mode).
func (a *Authenticator) Accounts() []*AccountInfo {
	out := make([]*AccountInfo, 0, len(a.accounts))
	for _, acc := range a.accounts {
		out = append(out, acc)
	}
	slices.SortFunc(out, func(x, y *AccountInfo) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// LookupAccount finds an account by name (public key in operator mode).
func (a *Authenticator) LookupAccount(name string) (*AccountInfo, bool) {
	acc, ok := a.accounts[name]
	return acc, ok
}

// fail wraps a cause into an authorization failure.
func fail(cause error) error {
	return &chain{ErrAuthorization, cause}
}

// failf is fail with a formatted reason, which may itself wrap (%w).
func failf(format string, args ...any) error {
	return &chain{ErrAuthorization, fmt.Errorf(format, args...)}
}

// Authenticate authenticates a client connection from its CONNECT, given
// the nonce sent in INFO ("" if none). It follows nats-server's precedence
// (auth.go processClientOrLeafAuthentication): operator mode needs a user
// JWT; otherwise an nkey user (when CONNECT has nkey), a users-list entry
// (when it has user), the token, the single user/password; a CONNECT with
// no credentials at all is the no_auth_user. Every failure wraps
// ErrAuthorization (wire text "Authorization Violation") and a reason.
//
// When the client listener's tls block has verify_and_map and users are
// configured, the users-list entry is the one the client certificate
// (ConnectCreds.Cert) maps to, whatever user CONNECT names, with that
// user's account and permissions; a mapped user that has a password still
// needs it in CONNECT, as in nats-server. A certificate that maps to no
// user fails with ErrNoCertUser. A user without a password that
// certificates map to cannot be claimed by a connection that does not map
// (the other listener).
func (a *Authenticator) Authenticate(c *ConnectCreds, nonce string) (*Identity, error) {
	return a.authenticate(c, nonce, false)
}

func (a *Authenticator) authenticate(c *ConnectCreds, nonce string, leaf bool) (*Identity, error) {
	if c == nil {
		c = &ConnectCreds{}
	}
	if !a.authRequired && !(c.Websocket && a.ws.override(leaf)) {
		if leaf {
			return a.leafIdentity(&Identity{Method: MethodNone}, a.leaf.account)
		}
		return a.identity(&Identity{Method: MethodNone}, a.accounts[conf.GlobalAccount]), nil
	}
	if a.operator {
		return a.authJWT(c, nonce, leaf)
	}
	if c.Websocket && a.ws.override(leaf) {
		return a.authWebsocket(c, nonce, leaf)
	}
	noCreds := c.User == "" && c.Pass == "" && c.Token == ""
	if len(a.nkeys) > 0 {
		nk := c.Nkey
		if nk == "" && noCreds && a.nkeys[a.noAuthUser] != nil {
			nk = a.noAuthUser
		}
		if nk != "" {
			u := a.nkeys[nk]
			if u == nil {
				return nil, failf("%w: unknown nkey %q", ErrBadCredentials, nk)
			}
			if err := connTypeAllowed(u.connTypes, leaf, c.Websocket); err != nil {
				return nil, fail(err)
			}
			// The no_auth_user needs no signature; anyone else does.
			if nk != a.noAuthUser {
				if err := verifyNonceSig(nk, c.Sig, nonce); err != nil {
					return nil, fail(err)
				}
			}
			m := MethodNkey
			if nk == a.noAuthUser && c.Nkey == "" {
				m = MethodNoAuth
			}
			return a.userIdentity(u, m), nil
		}
	}
	mapping := a.certs.client
	if c.Websocket {
		// A websocket client's certificate is the websocket listener's
		// to map, whatever the client port does (nats-server's
		// Websocket.TLSMap).
		mapping = a.certs.ws
	}
	if leaf {
		mapping = a.certs.leaf
	}
	if len(a.users) > 0 && mapping {
		u, err := a.mapCert(c.Cert, leaf)
		if err != nil {
			return nil, fail(err)
		}
		if !comparePasswords(u.password, c.Pass) {
			return nil, failf("%w: wrong password for user %q", ErrBadCredentials, u.name)
		}
		return a.userIdentity(u, MethodCert), nil
	}
	if len(a.users) > 0 {
		name, pass, m := c.User, c.Pass, MethodUser
		if noCreds {
			if u := a.users[a.noAuthUser]; u != nil {
				name, pass, m = u.name, u.password, MethodNoAuth
			}
		}
		if name != "" {
			u := a.users[name]
			if u == nil {
				return nil, failf("%w: unknown user %q", ErrBadCredentials, name)
			}
			if err := connTypeAllowed(u.connTypes, leaf, c.Websocket); err != nil {
				return nil, fail(err)
			}
			if m != MethodNoAuth && a.certOnly(u) {
				return nil, failf("%w: user %q requires a client certificate", ErrBadCredentials, name)
			}
			if !comparePasswords(u.password, pass) {
				return nil, failf("%w: wrong password for user %q", ErrBadCredentials, name)
			}
			return a.userIdentity(u, m), nil
		}
	}
	switch {
	case a.token != "":
		if !comparePasswords(a.token, c.Token) {
			return nil, failf("%w: wrong token", ErrBadCredentials)
		}
		return a.identity(&Identity{Name: "[REDACTED]", Method: MethodToken}, a.accounts[conf.GlobalAccount]), nil
	case a.username != "":
		if c.User != a.username || !comparePasswords(a.password, c.Pass) {
			return nil, failf("%w: wrong user or password", ErrBadCredentials)
		}
		return a.identity(&Identity{Name: a.username, Method: MethodPassword}, a.accounts[conf.GlobalAccount]), nil
	}
	if a.sysOnlyNoAuth && noCreds && c.Nkey == "" && c.JWT == "" {
		return a.identity(&Identity{Method: MethodNoAuth}, a.accounts[conf.GlobalAccount]), nil
	}
	return nil, failf("%w: no matching credentials", ErrBadCredentials)
}

// AuthenticateLeaf authenticates a leafnode connection on the accepting
// (hub) side (nats-server isLeafNodeAuthorized, PROTOCOL.md 4.11): the
// leafnodes authorization block decides when it has a single user, an
// nkey or a users list (leaf users carry no permissions and bind to their
// account, default $G); otherwise the client authorization applies (users
// with permissions become leaf permissions, JWTs bind to their account,
// and without any authorization the leaf binds to the leafnodes
// authorization account, default $G). Failures wrap ErrAuthorization.
//
// The returned Perms are the user's as configured; the server swaps them
// for the leaf connection (Permissions.Swap) and merges the JetStream and
// CONNECT deny_pub denies (WithDeny).
func (a *Authenticator) AuthenticateLeaf(c *ConnectCreds, nonce string) (*Identity, error) {
	if c == nil {
		c = &ConnectCreds{}
	}
	l := &a.leaf
	switch {
	case l.username != "":
		if c.User != l.username || !comparePasswords(l.password, c.Pass) {
			return nil, failf("%w: wrong leafnode user or password", ErrBadCredentials)
		}
		return a.leafIdentity(&Identity{Name: l.username, Method: MethodLeaf}, l.account)
	case l.nkey != "":
		if c.Nkey != l.nkey {
			return nil, failf("%w: unknown leafnode nkey %q", ErrBadCredentials, c.Nkey)
		}
		if err := verifyNonceSig(l.nkey, c.Sig, nonce); err != nil {
			return nil, fail(err)
		}
		return a.leafIdentity(&Identity{Name: l.nkey, PubKey: l.nkey, Method: MethodLeaf}, l.account)
	case len(l.users) > 0 && a.certs.leaf:
		name, u, err := a.mapLeafCert(c.Cert)
		if err != nil {
			return nil, fail(err)
		}
		if !comparePasswords(u.password, c.Pass) {
			return nil, failf("%w: wrong leafnode password for user %q", ErrBadCredentials, name)
		}
		return a.leafIdentity(&Identity{Name: name, Method: MethodCert}, u.account)
	case len(l.users) > 0:
		u := l.users[c.User]
		if u == nil || !comparePasswords(u.password, c.Pass) {
			return nil, failf("%w: wrong leafnode user or password", ErrBadCredentials)
		}
		return a.leafIdentity(&Identity{Name: c.User, Method: MethodLeaf}, u.account)
	}
	return a.authenticate(c, nonce, true)
}

// leafIdentity binds a leaf to an account named in the leafnodes block
// ("" is $G).
func (a *Authenticator) leafIdentity(id *Identity, account string) (*Identity, error) {
	if account == "" {
		account = conf.GlobalAccount
	}
	acc := a.accounts[account]
	if acc == nil {
		return nil, failf("%w: unable to lookup account %q", ErrUnknownAccount, account)
	}
	if a.operator && acc.issuer != "" {
		// Same time checks a JWT user of that account would get.
		now := a.now()
		if !acc.Expires.IsZero() && !now.Before(acc.Expires) {
			return nil, failf("%w: account %s", ErrAccountExpired, acc.Name)
		}
	}
	return a.identity(id, acc), nil
}

// userIdentity is the identity of a configured user or nkey user.
func (a *Authenticator) userIdentity(u *user, m Method) *Identity {
	id := &Identity{Name: u.name, Method: m, Perms: u.perms}
	if u.nkey {
		id.PubKey = u.name
	}
	return a.identity(id, u.account)
}

// identity binds id to acc and computes its limits.
func (a *Authenticator) identity(id *Identity, acc *AccountInfo) *Identity {
	id.Account, id.AccountInfo = acc.Name, acc
	id.MaxSubs, id.MaxPayload = acc.MaxSubs, acc.MaxPayload
	a.serverLimits(id)
	return id
}

// serverLimits folds the server's max_payload and max_subscriptions into an
// identity's limits (nats-server applyAccountLimits).
func (a *Authenticator) serverLimits(id *Identity) {
	id.MaxSubs = minLimit(id.MaxSubs, a.maxSubs)
	id.MaxPayload = int32(minLimit(int(id.MaxPayload), a.maxPayload))
}

// confPermsFromJWT converts JWT permissions into the configuration model,
// or nil when they say nothing (nats-server buildPermissionsFromJwt).
func confPermsFromJWT(jp *jwt.Permissions) *conf.Permissions {
	var p *conf.Permissions
	if len(jp.Pub.Allow) > 0 || len(jp.Pub.Deny) > 0 {
		p = &conf.Permissions{Publish: &conf.SubjectPermission{Allow: jp.Pub.Allow, Deny: jp.Pub.Deny}}
	}
	if len(jp.Sub.Allow) > 0 || len(jp.Sub.Deny) > 0 {
		if p == nil {
			p = &conf.Permissions{}
		}
		p.Subscribe = &conf.SubjectPermission{Allow: jp.Sub.Allow, Deny: jp.Sub.Deny}
	}
	if jp.Resp != nil {
		if p == nil {
			p = &conf.Permissions{}
		}
		p.Response = &conf.ResponsePermission{MaxMsgs: jp.Resp.MaxMsgs, Expires: jp.Resp.Expires}
	}
	return p
}

// Costly reports whether authenticating c means verifying a signature (an
// nkey or a user JWT, some 100-300 µs) or comparing against a bcrypt hash
// (tens of milliseconds), so that a caller on an event loop should do it
// elsewhere rather than stall every connection of the loop. It is cheap and
// safe for concurrent use.
func (a *Authenticator) Costly(c *ConnectCreds) bool {
	if c.JWT != "" || c.Nkey != "" || c.Sig != "" {
		return true
	}
	if isBcrypt(a.token) || isBcrypt(a.password) {
		return true
	}
	if c.Cert != nil && a.certs.bcrypt {
		return true
	}
	if u := a.users[c.User]; u != nil && isBcrypt(u.password) {
		return true
	}
	return false
}

// CostlyLeaf is Costly for a leaf's CONNECT on the leafnode port, which
// AuthenticateLeaf checks against the leafnodes block first and against
// the client rules only when that block names nobody.
func (a *Authenticator) CostlyLeaf(c *ConnectCreds) bool {
	l := &a.leaf
	switch {
	case l.username != "":
		return isBcrypt(l.password)
	case l.nkey != "":
		return true
	case len(l.users) > 0:
		u := l.users[c.User]
		return u != nil && isBcrypt(u.password)
	}
	return a.Costly(c)
}
