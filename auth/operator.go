package auth

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/canopy-nats/canopy/sublist"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// serverVersion is the nats-server version Canopy answers operator
// assert_server_version checks with.
const serverVersion = "2.15.2"

// readOperatorJWT accepts an operator JWT inline or the path of a file that
// holds one (possibly decorated), like nats-server's readOperatorJWT.
func readOperatorJWT(s string) (*jwt.OperatorClaims, error) {
	contents, err := os.ReadFile(s)
	if err != nil {
		if !strings.HasPrefix(strings.TrimSpace(s), "eyJ") {
			return nil, err
		}
		contents = []byte(strings.TrimSpace(s))
	}
	tok, err := jwt.ParseDecoratedJWT(contents)
	if err != nil {
		return nil, err
	}
	return jwt.DecodeOperatorClaims(tok)
}

// checkServerVersion compares an operator's assert_server_version with ours.
func checkServerVersion(opc *jwt.OperatorClaims) error {
	major, minor, update, err := jwt.ParseServerVersion(opc.AssertServerVersion)
	if err != nil {
		return fmt.Errorf("operator %s expects version %s got error instead: %s",
			opc.Subject, opc.AssertServerVersion, err)
	}
	smaj, smin, supd, _ := jwt.ParseServerVersion(serverVersion)
	switch {
	case major != smaj:
		if major > smaj {
			return fmt.Errorf("operator %s expected major version %d > server major version %d", opc.Subject, major, smaj)
		}
	case minor != smin:
		if minor > smin {
			return fmt.Errorf("operator %s expected minor version %d > server minor version %d", opc.Subject, minor, smin)
		}
	case update > supd:
		return fmt.Errorf("operator %s expected update version %d > server update version %d", opc.Subject, update, supd)
	}
	return nil
}

// buildJWTAccount turns a preloaded account JWT into an AccountInfo, or
// explains why the account may not be used (nats-server verifyAccountClaims
// and fetchAccountClaims: "account validation failed"). Time validity
// (exp, nbf) is checked at authentication, not here.
func (a *Authenticator) buildJWTAccount(key string, ac *jwt.AccountClaims) (*AccountInfo, error) {
	if ac.Subject != key {
		return nil, fmt.Errorf("%w: preload key %q does not match the account JWT subject %q",
			ErrAccountValidation, key, ac.Subject)
	}
	if _, ok := a.trusted[ac.Issuer]; !ok {
		return nil, fmt.Errorf("%w: account JWT not signed by a trusted operator (issuer %s)",
			ErrAccountValidation, ac.Issuer)
	}
	vr := jwt.CreateValidationResults()
	ac.Validate(vr)
	for _, issue := range vr.Issues {
		if issue.Blocking && !issue.TimeCheck {
			return nil, fmt.Errorf("%w: %s", ErrAccountValidation, issue.Description)
		}
	}
	info := &AccountInfo{
		Name:           ac.Subject,
		NameTag:        ac.Name,
		Tags:           append([]string(nil), ac.Tags...),
		MaxConnections: clampLimit(ac.Limits.Conn),
		MaxLeafNodes:   clampLimit(ac.Limits.LeafNodeConn),
		MaxSubs:        clampLimit(ac.Limits.Subs),
		MaxPayload:     clampLimit32(ac.Limits.Payload),
		DisallowBearer: ac.Limits.DisallowBearer,
		issuer:         ac.Issuer,
		notBefore:      ac.NotBefore,
		revocations:    ac.Revocations,
		signers:        map[string]jwt.Scope{},
	}
	if ac.Expires != 0 {
		info.Expires = time.Unix(ac.Expires, 0)
	}
	for k, scope := range ac.SigningKeys {
		info.signers[k] = scope
	}
	// Under strict signing key usage the account key itself may not issue
	// users; only its signing keys can.
	if _, strict := a.strict[ac.Issuer]; !strict {
		info.signers[ac.Subject] = nil
	}
	info.defaultPerms = permsFromJWT(&ac.DefaultPermissions)
	for _, e := range ac.Exports {
		if e == nil {
			continue
		}
		ex := &Export{
			Subject:              string(e.Subject),
			Service:              e.IsService(),
			TokenRequired:        e.TokenReq,
			AccountTokenPosition: e.AccountTokenPosition,
			revocations:          e.Revocations,
		}
		if ex.Service {
			ex.ResponseType = string(jwt.ResponseTypeSingleton)
			if e.ResponseType != "" {
				ex.ResponseType = string(e.ResponseType)
			}
		}
		if !sublist.ValidSubject(ex.Subject) {
			a.warnf("account %s: export %q is not a valid subject, ignored", ac.Subject, ex.Subject)
			continue
		}
		info.Exports = append(info.Exports, ex)
	}
	return info, nil
}

// jwtImportSpecs turns an account JWT's imports into import specs. Stream:
// Subject is the exporter's subject, To a prefix (deprecated) and
// LocalSubject a local name. Service: without LocalSubject, Subject is the
// local subject and To the exporter's; with it, LocalSubject is local and
// Subject the exporter's (nats-server updateAccountClaimsWithRefresh).
func jwtImportSpecs(owner *AccountInfo, ac *jwt.AccountClaims) []importSpec {
	var specs []importSpec
	for _, i := range ac.Imports {
		if i == nil {
			continue
		}
		s := importSpec{owner: owner, exporter: i.Account, service: i.IsService(), share: i.Share, token: i}
		if s.service {
			if i.LocalSubject != "" {
				s.to, s.subject = string(i.LocalSubject), string(i.Subject)
			} else {
				s.to, s.subject = string(i.Subject), i.GetTo()
				if s.subject == "" {
					s.subject = s.to
				}
			}
		} else {
			s.subject = string(i.Subject)
			if i.LocalSubject != "" {
				s.to = string(i.LocalSubject)
			} else {
				s.prefix = i.GetTo()
			}
		}
		specs = append(specs, s)
	}
	return specs
}

// permsFromJWT builds Permissions from JWT permissions, or nil when the JWT
// has none (nats-server buildPermissionsFromJwt). Invalid subjects are
// skipped.
func permsFromJWT(jp *jwt.Permissions) *Permissions {
	cp := confPermsFromJWT(jp)
	if cp == nil {
		return nil
	}
	return compile(cp)
}

// authJWT is operator-mode authentication (nats-server
// processClientOrLeafAuthentication, the juc branches).
func (a *Authenticator) authJWT(c *ConnectCreds, nonce string, leaf bool) (*Identity, error) {
	if c.JWT == "" {
		return nil, fail(ErrJWTRequired)
	}
	juc, err := jwt.DecodeUserClaims(c.JWT)
	if err != nil {
		return nil, failf("user JWT not valid: %v", err)
	}
	now := a.now()
	vr := jwt.CreateValidationResults()
	juc.Validate(vr)
	if vr.IsBlocking(true) {
		if juc.Expires != 0 && juc.Expires <= now.Unix() {
			return nil, failf("%w: user JWT expired at %s", ErrExpired, time.Unix(juc.Expires, 0).UTC())
		}
		return nil, failf("user JWT no longer valid: %v", vr.Errors())
	}
	issuer := juc.Issuer
	if juc.IssuerAccount != "" {
		issuer = juc.IssuerAccount
	}
	acc, err := a.jwtAccount(issuer)
	if err != nil {
		return nil, failf("account JWT lookup error: %w", err)
	}
	scope, ok := acc.signers[juc.Issuer]
	if !ok {
		return nil, fail(&signerError{juc.Issuer, acc.Name})
	}
	lim := juc.UserPermissionLimits
	if scope != nil {
		if err := scope.ValidateScopedSigner(juc); err != nil {
			return nil, failf("user JWT is not valid: %v", err)
		}
		us, ok := scope.(*jwt.UserScope)
		if !ok {
			return nil, failf("user JWT is not valid: unknown signing key scope")
		}
		if lim, err = expandTemplate(us.Template, juc, acc); err != nil {
			return nil, failf("user JWT generated invalid permissions: %v", err)
		}
	}
	if !acc.Expires.IsZero() && !now.Before(acc.Expires) {
		return nil, failf("%w: account %s", ErrAccountExpired, acc.Name)
	}
	if acc.notBefore != 0 && now.Unix() < acc.notBefore {
		return nil, failf("%w: account %s not valid yet", ErrAccountValidation, acc.Name)
	}
	if lim.BearerToken && acc.DisallowBearer {
		return nil, fail(ErrBearerNotAllowed)
	}
	if err := connTypeAllowed(lim.AllowedConnectionTypes, leaf, c.Websocket); err != nil {
		return nil, fail(err)
	}
	// Bearer tokens skip the nonce signature, whatever the protocol.
	if !lim.BearerToken {
		if err := verifyNonceSig(juc.Subject, c.Sig, nonce); err != nil {
			return nil, fail(err)
		}
	}
	if acc.revocations.IsRevoked(juc.Subject, time.Unix(juc.IssuedAt, 0)) {
		return nil, failf("%w: user %s", ErrRevoked, juc.Subject)
	}
	if !sourceAllowed(lim.Src, c.Host) {
		return nil, failf("%w: bad src IP %q", ErrSource, c.Host)
	}
	inWindow, validFor := timesAllow(lim.Times, lim.Locale, now)
	if !inWindow {
		return nil, failf("outside connect times")
	}

	id := &Identity{
		Name:        juc.Subject,
		Method:      MethodJWT,
		Account:     acc.Name,
		AccountInfo: acc,
		PubKey:      juc.Subject,
		NameTag:     juc.Name,
		Tags:        append([]string(nil), juc.Tags...),
		Bearer:      lim.BearerToken,
		MaxSubs:     minLimit(clampLimit(lim.Subs), acc.MaxSubs),
		MaxPayload:  int32(minLimit(clampLimit(lim.Payload), int(acc.MaxPayload))),
	}
	if juc.IssuerAccount != "" {
		id.SigningKey = juc.Issuer
	}
	a.serverLimits(id)
	id.Perms = permsFromJWT(&lim.Permissions)
	if id.Perms == nil {
		id.Perms = acc.defaultPerms
	}
	if juc.Expires != 0 {
		id.Expires = time.Unix(juc.Expires, 0)
	}
	if validFor > 0 {
		if end := now.Add(validFor); id.Expires.IsZero() || end.Before(id.Expires) {
			id.Expires = end
		}
	}
	return id, nil
}

// jwtAccount resolves an account public key through the preloaded accounts.
func (a *Authenticator) jwtAccount(key string) (*AccountInfo, error) {
	if acc := a.accounts[key]; acc != nil && acc.issuer != "" {
		return acc, nil
	}
	if err := a.badAccounts[key]; err != nil {
		return nil, err
	}
	if a.fetch != nil && nkeys.IsValidPublicAccountKey(key) {
		if err := a.fetch(key); err != nil {
			return nil, err
		}
		return nil, ErrFetched
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, key)
}

// connTypeAllowed applies a JWT's allowed_connection_types. Unknown types
// are ignored as long as some known type remains; an all-unknown list
// allows nothing (nats-server convertAllowedConnectionTypes).
func connTypeAllowed(types []string, leaf bool, ws ...bool) error {
	if len(types) == 0 {
		return nil
	}
	websocket := len(ws) > 0 && ws[0]
	want := jwt.ConnectionTypeStandard
	switch {
	case leaf && websocket:
		want = jwt.ConnectionTypeLeafnodeWS
	case leaf:
		want = jwt.ConnectionTypeLeafnode
	case websocket:
		want = jwt.ConnectionTypeWebsocket
	}
	for _, t := range types {
		if strings.ToUpper(t) == want {
			return nil
		}
	}
	return fmt.Errorf("%w: %s not in %v", ErrConnectionType, want, types)
}

// sourceAllowed applies a JWT's src CIDR list to the client address.
func sourceAllowed(src jwt.CIDRList, host string) bool {
	if len(src) == 0 {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, cidr := range src {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return false
		}
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// timesAllow applies a JWT's connect time windows: whether now falls in one
// and how long the longest current window still lasts (0 without windows).
// A window whose end precedes its start crosses midnight.
func timesAllow(times []jwt.TimeRange, locale string, now time.Time) (bool, time.Duration) {
	if len(times) == 0 {
		return true, 0
	}
	loc := time.Local
	if locale != "" {
		l, err := time.LoadLocation(locale)
		if err != nil {
			return false, 0
		}
		loc = l
		now = now.In(loc)
	}
	ok, best := false, time.Duration(0)
	y, m, d := now.Date()
	for _, tr := range times {
		s, err1 := time.ParseInLocation("15:04:05", tr.Start, loc)
		e, err2 := time.ParseInLocation("15:04:05", tr.End, loc)
		if err1 != nil || err2 != nil {
			return false, 0
		}
		start := time.Date(y, m, d, s.Hour(), s.Minute(), s.Second(), 0, loc)
		end := time.Date(y, m, d, e.Hour(), e.Minute(), e.Second(), 0, loc)
		in, left := false, time.Duration(0)
		switch {
		case start.Before(now) && end.After(now):
			in, left = true, end.Sub(now)
		case start.After(end) && end.After(now):
			// Crosses midnight, and we are past midnight.
			in, left = true, end.Sub(now)
		case start.After(end) && start.Before(now):
			// Crosses midnight, and we are before it.
			in, left = true, end.AddDate(0, 0, 1).Sub(now)
		}
		if in && (!ok || left > best) {
			ok, best = true, left
		}
	}
	return ok, best
}

// templateToken finds {{ ... }} operations in scoped signing key templates.
var templateToken = regexp.MustCompile(`{{2}([^}]+)}{2}`)

// maxTemplateExpansion bounds how many subjects tag templates may generate.
const maxTemplateExpansion = 4096

// expandTemplate applies a scoped signing key's template to a user:
// {{name()}}, {{subject()}}, {{account-name()}}, {{account-subject()}},
// {{tag(x)}} and {{account-tag(x)}} in permission subjects (nats-server
// processUserPermissionsTemplate). Generated invalid subjects are dropped
// from allow lists and are an error in deny lists; an allow list that had
// entries but expands to none becomes a deny of ">". The template is
// shared, so nothing here writes to its slices.
func expandTemplate(tpl jwt.UserPermissionLimits, uc *jwt.UserClaims, acc *AccountInfo) (jwt.UserPermissionLimits, error) {
	lim := tpl
	var err error
	expand := func(in jwt.StringList, strict bool) jwt.StringList {
		if err != nil {
			return nil
		}
		var out jwt.StringList
		out, err = expandList(in, strict, uc, acc)
		return out
	}
	lim.Sub.Allow = expand(tpl.Sub.Allow, false)
	lim.Sub.Deny = expand(tpl.Sub.Deny, true)
	lim.Pub.Allow = expand(tpl.Pub.Allow, false)
	lim.Pub.Deny = expand(tpl.Pub.Deny, true)
	if err != nil {
		return jwt.UserPermissionLimits{}, err
	}
	if len(tpl.Sub.Allow) > 0 && len(lim.Sub.Allow) == 0 {
		lim.Sub.Deny = append(append(jwt.StringList(nil), lim.Sub.Deny...), ">")
	}
	if len(tpl.Pub.Allow) > 0 && len(lim.Pub.Allow) == 0 {
		lim.Pub.Deny = append(append(jwt.StringList(nil), lim.Pub.Deny...), ">")
	}
	return lim, nil
}

func expandList(in jwt.StringList, strict bool, uc *jwt.UserClaims, acc *AccountInfo) (jwt.StringList, error) {
	templated := false
	for _, s := range in {
		if templateToken.MatchString(s) {
			templated = true
			break
		}
	}
	if !templated {
		return in, nil
	}
	out := make(jwt.StringList, 0, len(in))
	for _, entry := range in {
		ops := templateToken.FindAllString(entry, -1)
		values := make([][]string, len(ops))
		for i, op := range ops {
			v, err := templateValues(entry, op, strict, uc, acc)
			if err != nil {
				return nil, err
			}
			values[i] = v
		}
		n := 1
		for _, v := range values {
			if len(v) == 0 {
				n = 0
				break
			}
			if n > maxTemplateExpansion/len(v) {
				return nil, fmt.Errorf("template expansion exceeds limit: %d", maxTemplateExpansion)
			}
			n *= len(v)
		}
		if len(out)+n > maxTemplateExpansion {
			return nil, fmt.Errorf("template expansion exceeds limit: %d", maxTemplateExpansion)
		}
		// Walk the cartesian product of the values with an odometer.
		idx := make([]int, len(values))
		for k := 0; k < n; k++ {
			subj := entry
			for i, op := range ops {
				subj = strings.ReplaceAll(subj, op, values[i][idx[i]])
			}
			if sublist.ValidSubject(subj) {
				out = append(out, subj)
			} else if strict {
				return nil, fmt.Errorf("generated invalid subject %q", subj)
			}
			for i := len(idx) - 1; i >= 0; i-- {
				if idx[i]++; idx[i] < len(values[i]) {
					break
				}
				idx[i] = 0
			}
		}
	}
	return out, nil
}

// templateValues evaluates one {{op}}.
func templateValues(entry, tok string, strict bool, uc *jwt.UserClaims, acc *AccountInfo) ([]string, error) {
	op := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(tok, "{{"), "}}"))
	lower := strings.ToLower(op)
	switch lower {
	case "name()":
		return []string{uc.Name}, nil
	case "subject()":
		return []string{uc.Subject}, nil
	case "account-name()":
		return []string{acc.NameTag}, nil
	case "account-subject()":
		return []string{uc.IssuerAccount}, nil
	}
	var tags []string
	var name string
	switch {
	case strings.HasPrefix(lower, "tag(") && strings.HasSuffix(op, ")"):
		tags, name = uc.Tags, op[len("tag("):len(op)-1]
	case strings.HasPrefix(lower, "account-tag(") && strings.HasSuffix(op, ")"):
		tags, name = acc.Tags, op[len("account-tag("):len(op)-1]
	default:
		return nil, fmt.Errorf("template operation in %q: %q is not defined", entry, op)
	}
	prefix := strings.ToLower(name) + ":"
	var vals []string
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, prefix); ok {
			vals = append(vals, v)
		}
	}
	if len(vals) > 0 {
		return vals, nil
	}
	if strict {
		return nil, fmt.Errorf("generated invalid subject %q: %q is not defined", entry, name)
	}
	// A value that can never form a valid subject: the entry is dropped.
	return []string{" "}, nil
}

// validOperatorKey reports whether key is a public operator nkey.
func validOperatorKey(key string) bool {
	return nkeys.IsValidPublicOperatorKey(key)
}

// signerError is a user JWT issued by a key its account does not have.
type signerError struct{ issuer, account string }

func (e *signerError) Error() string {
	return fmt.Sprintf("user JWT issuer %s is not known to account %s", e.issuer, e.account)
}

func (e *signerError) Is(target error) bool { return target == ErrUnknownSigner }
