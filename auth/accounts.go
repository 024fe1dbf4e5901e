package auth

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/sublist"
	"github.com/nats-io/jwt/v2"
)

// Unlimited is the value of a limit that does not apply (jwt.NoLimit).
const Unlimited = -1

// AccountInfo is one account as the server needs it: name, limits, and its
// exports and imports, validated and resolved. It is immutable after New
// and safe for concurrent use. The server builds one subject space (one
// sublist) per account and routes imports with this data.
type AccountInfo struct {
	// Name is the account name; in operator mode the account public key.
	Name string
	// NameTag and Tags are the account JWT's name and tags (operator mode).
	NameTag string
	Tags    []string
	// System is true for the system account.
	System bool
	// Exports and Imports, in configuration (or JWT) order. Every import
	// names an existing account and an export that authorises it.
	Exports []*Export
	Imports []*Import
	// Limits; Unlimited (-1) when not limited. MaxSubs and MaxPayload are
	// already folded into Identity limits; MaxConnections and MaxLeafNodes
	// must be counted by the server (WireAccountConnections).
	MaxConnections int
	MaxLeafNodes   int
	MaxSubs        int
	MaxPayload     int32
	// Expires is the account JWT's expiry (zero: never). The server closes
	// the account's connections then, with WireAccountExpired.
	Expires time.Time
	// DisallowBearer is true when the account refuses bearer user JWTs.
	DisallowBearer bool

	// Operator mode only.
	issuer       string
	notBefore    int64
	signers      map[string]jwt.Scope // key -> scope (nil: unscoped)
	revocations  jwt.RevocationList
	defaultPerms *Permissions
}

// Export is a stream or service an account offers to others. Like
// AccountInfo it is immutable and safe for concurrent use.
type Export struct {
	Subject string
	Service bool
	// ResponseType is the service response type from a JWT: "Singleton"
	// (the default), "Stream" or "Chunked".
	ResponseType string
	// TokenRequired exports are only importable with an activation token
	// (operator mode).
	TokenRequired bool
	// AccountTokenPosition, when not zero, binds the export to importers
	// whose account name is that (1-based) token of the imported subject.
	AccountTokenPosition uint

	accounts    map[string]struct{} // nil: public
	revocations jwt.RevocationList  // revoked activations
}

// Import brings a stream or service of another account into this one.
// Immutable and safe for concurrent use.
type Import struct {
	// Account is the exporting account's name (public key in operator mode).
	Account string
	// Subject is the subject in the exporting account.
	Subject string
	// To is the local subject: where a stream's messages appear (Subject
	// with the prefix applied) or what local clients publish to reach the
	// service. When Subject has wildcards, To equals Subject.
	To string
	// Prefix is the configured stream prefix (informational; To has it).
	Prefix  string
	Service bool
	Share   bool
	// Export is the export that authorises this import.
	Export *Export
}

// Allows reports whether account may import the export without an
// activation token: public exports allow everyone, others allow the
// accounts they list. Token-required exports allow nobody here, and
// account-position exports depend on the subject (see AllowsSubject).
func (e *Export) Allows(account string) bool {
	if e.TokenRequired || e.AccountTokenPosition > 0 {
		return false
	}
	if e.accounts == nil {
		return true
	}
	_, ok := e.accounts[account]
	return ok
}

// AllowsSubject is Allows for an import of subject, which also covers
// account-position exports.
func (e *Export) AllowsSubject(account, subject string) bool {
	if e.AccountTokenPosition > 0 && !e.TokenRequired {
		toks := strings.Split(subject, ".")
		pos := int(e.AccountTokenPosition)
		return pos <= len(toks) && toks[pos-1] == account
	}
	return e.Allows(account)
}

// Public reports whether any account may import without a token.
func (e *Export) Public() bool {
	return e.accounts == nil && !e.TokenRequired && e.AccountTokenPosition == 0
}

// ApprovedAccounts lists the accounts a private export names, sorted.
func (e *Export) ApprovedAccounts() []string {
	out := make([]string, 0, len(e.accounts))
	for a := range e.accounts {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Service returns the first service export matching subject (the literal
// subject a request was published on in this account), or nil.
func (a *AccountInfo) Service(subject string) *Export {
	for _, e := range a.Exports {
		if e.Service && sublist.Matches(e.Subject, subject) {
			return e
		}
	}
	return nil
}

// noLimit turns a config-style limit (0 = unlimited) into Unlimited.
func noLimit(v int) int {
	if v <= 0 {
		return Unlimited
	}
	return v
}

// clampLimit converts a JWT limit to int, keeping -1 as Unlimited.
func clampLimit(v int64) int {
	switch {
	case v < 0:
		return Unlimited
	case v > math.MaxInt32:
		return math.MaxInt32
	}
	return int(v)
}

func clampLimit32(v int64) int32 {
	return int32(clampLimit(v))
}

// minLimit combines two limits where Unlimited (-1) loses to anything.
func minLimit(a, b int) int {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

// importSpec is an import before resolution, from a config file or a JWT.
type importSpec struct {
	owner    *AccountInfo
	exporter string
	subject  string // in the exporter's account
	to       string // local subject; "" means derived
	prefix   string
	service  bool
	share    bool
	token    *jwt.Import // operator mode, for activation tokens
}

// buildConfigAccounts turns the accounts of a config file into
// AccountInfos: $G always, the system account (named, or $SYS) always,
// exports checked, imports resolved. Errors are worded as nats-server's.
func buildConfigAccounts(opts *conf.Options) (map[string]*AccountInfo, string, error) {
	accts := map[string]*AccountInfo{}
	add := func(name string) *AccountInfo {
		a := &AccountInfo{Name: name, MaxConnections: Unlimited, MaxLeafNodes: Unlimited,
			MaxSubs: Unlimited, MaxPayload: Unlimited}
		accts[name] = a
		return a
	}
	for _, ca := range opts.Accounts {
		if ca == nil {
			continue
		}
		if ca.Name == "" {
			return nil, "", errors.New("account name can not be empty")
		}
		if _, dup := accts[ca.Name]; dup {
			return nil, "", fmt.Errorf("duplicate account %q", ca.Name)
		}
		a := add(ca.Name)
		a.MaxConnections = noLimit(ca.MaxConnections)
		a.MaxLeafNodes = noLimit(ca.MaxLeafNodes)
		a.MaxSubs = noLimit(ca.MaxSubs)
		a.MaxPayload = int32(noLimit(int(ca.MaxPayload)))
	}
	if accts[conf.GlobalAccount] == nil {
		add(conf.GlobalAccount)
	}
	sys := opts.SystemAccount
	if sys == "" {
		sys = conf.SystemAccount
	}
	if accts[sys] == nil {
		if opts.SystemAccount != "" {
			return nil, "", fmt.Errorf("error resolving system account: %w", ErrUnknownAccount)
		}
		add(sys)
	}
	accts[sys].System = true

	// Exports first: imports are checked against them.
	for _, ca := range opts.Accounts {
		if ca == nil {
			continue
		}
		a := accts[ca.Name]
		for _, ce := range ca.Exports {
			if ce == nil {
				continue
			}
			kind := "stream"
			if ce.Service {
				kind = "service"
			}
			e := &Export{Subject: ce.Subject, Service: ce.Service}
			if ce.Service {
				e.ResponseType = "Singleton"
				if ce.Response != "" {
					e.ResponseType = ce.Response
				}
			}
			if !sublist.ValidSubject(ce.Subject) {
				return nil, "", fmt.Errorf("Error adding %s export %q: %w", kind, ce.Subject, ErrInvalidSubject)
			}
			if ce.Accounts != nil {
				e.accounts = make(map[string]struct{}, len(ce.Accounts))
				if len(ce.Accounts) == 0 {
					// An empty list means "token required", as in
					// nats-server; config mode has no tokens, so nobody.
					e.TokenRequired = true
				}
				for _, an := range ce.Accounts {
					if accts[an] == nil {
						return nil, "", fmt.Errorf("%q account not defined for %s export", an, kind)
					}
					e.accounts[an] = struct{}{}
				}
			}
			a.Exports = append(a.Exports, e)
		}
	}
	var specs []importSpec
	for _, ca := range opts.Accounts {
		if ca == nil {
			continue
		}
		for _, ci := range ca.Imports {
			if ci == nil {
				continue
			}
			s := importSpec{owner: accts[ca.Name], exporter: ci.Account, subject: ci.Subject,
				to: ci.To, prefix: ci.Prefix, service: ci.Service, share: ci.Share}
			if !ci.Service && ci.Prefix != "" && ci.To != "" {
				return nil, "", errors.New("Stream import can not have a 'prefix' and a 'to' property")
			}
			specs = append(specs, s)
		}
	}
	for _, s := range specs {
		if err := resolveImport(accts, s); err != nil {
			return nil, "", err
		}
	}
	return accts, sys, nil
}

// importError words an import failure as nats-server does.
func importError(s importSpec, err error) error {
	kind := "stream"
	if s.service {
		kind = "service"
	}
	if errors.Is(err, ErrUnknownAccount) {
		return fmt.Errorf("%q account not defined for %s import", s.exporter, kind)
	}
	return fmt.Errorf("Error adding %s import %q: %w", kind, s.subject, err)
}

// resolveImport checks one import and appends it to its owner.
func resolveImport(accts map[string]*AccountInfo, s importSpec) error {
	exp := accts[s.exporter]
	if exp == nil {
		return importError(s, ErrUnknownAccount)
	}
	if !sublist.ValidSubject(s.subject) {
		return importError(s, ErrInvalidSubject)
	}
	im := &Import{Account: exp.Name, Subject: s.subject, Prefix: s.prefix, Service: s.service, Share: s.share}
	if s.service {
		im.To = s.to
		if im.To == "" {
			im.To = s.subject
		}
		if !sublist.ValidSubject(im.To) {
			return importError(s, ErrInvalidSubject)
		}
		im.Export = exp.authorize(s.owner.Name, s.subject, true, s.token)
		if im.Export == nil {
			return importError(s, ErrServiceImportAuthorization)
		}
		if err := unsupportedMapping(im); err != nil {
			return importError(s, err)
		}
		if err := serviceCycle(accts, exp, im.To, map[string]bool{s.owner.Name: true}); err != nil {
			return importError(s, err)
		}
		for _, o := range s.owner.Imports {
			if o.Service && o.Account == im.Account && o.To == im.To {
				return importError(s, fmt.Errorf("duplicate service import subject %q, previously used in import for account %q, subject %q",
					im.To, o.Account, o.Subject))
			}
		}
	} else {
		im.Export = exp.authorize(s.owner.Name, s.subject, false, s.token)
		if im.Export == nil {
			return importError(s, ErrStreamImportAuthorization)
		}
		switch {
		case s.prefix != "":
			if !sublist.ValidLiteral(strings.TrimSuffix(s.prefix, ".")) {
				return importError(s, ErrStreamImportBadPrefix)
			}
			p := s.prefix
			if !strings.HasSuffix(p, ".") {
				p += "."
			}
			im.To = p + s.subject
		case s.to != "":
			im.To = s.to
		default:
			im.To = s.subject
		}
		if !sublist.ValidSubject(im.To) {
			return importError(s, ErrInvalidSubject)
		}
		if err := unsupportedMapping(im); err != nil {
			return importError(s, err)
		}
		for _, subj := range []string{im.To, im.Subject} {
			if err := streamCycle(accts, exp, subj, map[string]bool{s.owner.Name: true}); err != nil {
				return importError(s, err)
			}
		}
		for _, o := range s.owner.Imports {
			if !o.Service && o.Account == im.Account && o.Subject == im.Subject {
				return importError(s, ErrStreamImportDuplicate)
			}
		}
	}
	s.owner.Imports = append(s.owner.Imports, im)
	return nil
}

// unsupportedMapping rejects a wildcard import whose local subject differs
// from the remote one: that needs nats-server's subject transforms, which
// Canopy does not have. A stream prefix is fine (it only prepends).
func unsupportedMapping(im *Import) error {
	if im.To == im.Subject || isLiteral(im.Subject) {
		return nil
	}
	if !im.Service && im.Prefix != "" {
		return nil
	}
	return fmt.Errorf("mapping wildcard import %q to %q is not supported", im.Subject, im.To)
}

// authorize finds the export of a that covers subject for importer: an
// export with exactly that subject first, else one the subject falls
// under. It returns nil when none authorises the import.
func (a *AccountInfo) authorize(importer, subject string, service bool, claim *jwt.Import) *Export {
	check := func(e *Export) bool {
		if e.TokenRequired {
			return a.checkActivation(importer, e, claim)
		}
		return e.AllowsSubject(importer, subject)
	}
	for _, e := range a.Exports {
		if e.Service == service && e.Subject == subject {
			if check(e) {
				return e
			}
			return nil
		}
	}
	for _, e := range a.Exports {
		if e.Service == service && sublist.SubsetOf(subject, e.Subject) && check(e) {
			return e
		}
	}
	return nil
}

// checkActivation validates an activation token for a token-required export
// (nats-server Account.checkActivation).
func (a *AccountInfo) checkActivation(importer string, e *Export, claim *jwt.Import) bool {
	if claim == nil || claim.Token == "" {
		return false
	}
	vr := jwt.CreateValidationResults()
	c := *claim
	c.Validate(importer, vr)
	if vr.IsBlocking(true) {
		return false
	}
	act, err := jwt.DecodeActivationClaims(c.Token)
	if err != nil {
		return false
	}
	if act.IssuerAccount != "" {
		if act.IssuerAccount != a.Name {
			return false
		}
		if _, ok := a.signers[act.Issuer]; !ok {
			return false
		}
	}
	vr = jwt.CreateValidationResults()
	act.Validate(vr)
	if vr.IsBlocking(true) {
		return false
	}
	if act.Expires != 0 && act.Expires <= time.Now().Unix() {
		return false
	}
	return !e.revocations.IsRevoked(act.Subject, time.Unix(act.IssuedAt, 0))
}

// serviceCycle follows service imports from dest and fails when a request
// on subject could come back to an account already visited (nats-server
// checkServiceImportsForCycles).
func serviceCycle(accts map[string]*AccountInfo, dest *AccountInfo, subject string, visited map[string]bool) error {
	if len(visited) >= 1024 {
		return ErrImportFormsCycle
	}
	for _, si := range dest.Imports {
		if !si.Service || !sublist.Overlaps(subject, si.Subject) {
			continue
		}
		if visited[si.Account] {
			return ErrImportFormsCycle
		}
		visited[dest.Name] = true
		next := subject
		if sublist.SubsetOf(si.To, next) {
			next = si.To
		}
		if err := serviceCycle(accts, accts[si.Account], next, visited); err != nil {
			return err
		}
	}
	return nil
}

// streamCycle is the stream counterpart (nats-server
// checkStreamImportsForCycles).
func streamCycle(accts map[string]*AccountInfo, exp *AccountInfo, subject string, visited map[string]bool) error {
	if len(visited) >= 1024 {
		return ErrImportFormsCycle
	}
	exported := false
	for _, e := range exp.Exports {
		if !e.Service && sublist.SubsetOf(subject, e.Subject) {
			exported = true
			break
		}
	}
	if !exported {
		return nil
	}
	for _, si := range exp.Imports {
		if si.Service || !sublist.Overlaps(subject, si.To) {
			continue
		}
		if visited[si.Account] {
			return ErrImportFormsCycle
		}
		visited[exp.Name] = true
		next := subject
		if sublist.SubsetOf(si.To, next) {
			next = si.To
		}
		if err := streamCycle(accts, accts[si.Account], next, visited); err != nil {
			return err
		}
	}
	return nil
}
