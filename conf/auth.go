package conf

import (
	"math"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

// Response permission defaults, as nats-server has them.
const (
	defaultResponseMaxMsgs = 1
	defaultResponseExpires = 2 * time.Minute
)

// authorization maps the top-level authorization block.
func (l *loader) authorization(n node) {
	m, ok := l.mapOf(n)
	if !ok {
		return
	}
	a := Authorization{}
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "user", "username":
			l.setString(e, &a.Username)
		case "pass", "password":
			l.setString(e, &a.Password)
		case "token":
			l.setString(e, &a.Token)
		case "timeout":
			if d, ok := l.authTimeout(e); ok {
				a.Timeout = d
			}
		case "users":
			l.mark("authorization.users", e)
			a.Users = l.users(e, false)
		case "default_permission", "default_permissions", "permissions":
			a.DefaultPermissions = l.permissions(e)
		case "auth_callout", "auth_hook":
			l.unsupported(e)
		case "proxy_required":
			l.refuseIfTrue(e, "clients cannot be required to come through a proxy")
		default:
			l.unknown(e)
		}
	}
	applyDefaultPermissions(a.Users, a.DefaultPermissions)
	l.opts.Authorization = a
}

// applyDefaultPermissions gives users without permissions of their own the
// block's default ones, as nats-server does while reading.
func applyDefaultPermissions(users []*User, p *Permissions) {
	if p == nil {
		return
	}
	for _, u := range users {
		if u.Permissions == nil {
			u.Permissions = p
		}
	}
}

// users reads a users array. Leafnode users (leaf true) take only user,
// password and account; client users take nkeys and permissions instead
// of an account, which comes from the accounts block they are in.
func (l *loader) users(n node, leaf bool) []*User {
	elems, ok := l.arrayOf(n)
	if !ok {
		return nil
	}
	users := make([]*User, 0, len(elems))
	for _, el := range elems {
		m, ok := el.v.(map[string]any)
		if !ok {
			l.invalid(el, "expected a user entry (a map), got %s", describe(el.v))
			continue
		}
		if u := l.user(el, m, leaf); u != nil {
			users = append(users, u)
		}
	}
	return users
}

func (l *loader) user(el node, m map[string]any, leaf bool) *User {
	u := &User{}
	bad := false
	for _, e := range entries(el, m) {
		k := strings.ToLower(e.key)
		switch {
		case k == "user" || k == "username":
			l.setString(e, &u.Username)
		case k == "pass" || k == "password":
			l.setString(e, &u.Password)
		case k == "proxy_required":
			l.refuseIfTrue(e, "users cannot be required to come through a proxy")
		case leaf && k == "account":
			l.setString(e, &u.Account)
		case !leaf && k == "nkey":
			s, ok := l.str(e)
			if !ok {
				bad = true
				continue
			}
			if !nkeys.IsValidPublicUserKey(s) {
				l.invalid(e, "%q is not a valid public user nkey", s)
				bad = true
				continue
			}
			u.Nkey = s
		case !leaf && (k == "permission" || k == "permissions" || k == "authorization"):
			u.Permissions = l.permissions(e)
		case !leaf && (k == "allowed_connection_types" || k == "connection_types" || k == "clients"):
			u.AllowedConnectionTypes = l.connectionTypes(e)
		default:
			l.unknown(e)
		}
	}
	if bad {
		return nil
	}
	switch {
	case u.Nkey == "" && u.Username == "":
		l.errAt(el, "user entry needs a user or an nkey")
		return nil
	case u.Nkey != "" && (u.Username != "" || u.Password != ""):
		l.errAt(el, "nkey users do not take a user or a password")
		return nil
	}
	return u
}

// connectionTypes reads allowed_connection_types. Unknown kinds are
// errors: dropping one would let the user in by a kind it was denied.
func (l *loader) connectionTypes(n node) []string {
	list, ok := l.stringList(n)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		t := strings.ToUpper(s)
		switch t {
		case "STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS", "IN_PROCESS":
			out = append(out, t)
		default:
			l.invalid(n, "unknown connection type %q", s)
		}
	}
	return out
}

// permissions reads a permissions map: publish, subscribe and
// allow_responses, with the aliases nats-server accepts.
func (l *loader) permissions(n node) *Permissions {
	m, ok := l.mapOf(n)
	if !ok {
		return nil
	}
	p := &Permissions{}
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "pub", "publish", "import":
			p.Publish = l.subjectPermission(e, false)
		case "sub", "subscribe", "export":
			p.Subscribe = l.subjectPermission(e, true)
		case "allow_responses", "publish_allow_responses":
			p.Response = l.allowResponses(e)
		default:
			l.unknown(e)
		}
	}
	// Allowing responses without a publish allow list turns publishing
	// into "nothing but responses". nats-server's result depends on the
	// order it happens to visit the keys; this is its documented meaning.
	if p.Response != nil {
		if p.Publish == nil {
			p.Publish = &SubjectPermission{}
		}
		if p.Publish.Allow == nil {
			p.Publish.Allow = []string{}
		}
	}
	return p
}

// subjectPermission reads publish or subscribe: a subject, a list of
// subjects (both meaning allow), or a map with allow and deny. An empty
// map means no restriction at all, as in nats-server.
func (l *loader) subjectPermission(n node, queues bool) *SubjectPermission {
	m, isMap := n.v.(map[string]any)
	if !isMap {
		return &SubjectPermission{Allow: l.subjects(n, queues)}
	}
	if len(m) == 0 {
		return nil
	}
	sp := &SubjectPermission{}
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "allow":
			sp.Allow = l.subjects(e, queues)
		case "deny":
			sp.Deny = l.subjects(e, queues)
		default:
			l.errAt(e, "unknown field %q in subject permissions: only allow and deny are permitted", e.key)
		}
	}
	return sp
}

// subjects reads a subject or a list of subjects and checks them. With
// queues, an entry may be "subject queue"; it is kept verbatim. An empty
// list gives nil, which nats-server also reads as no restriction.
func (l *loader) subjects(n node, queues bool) []string {
	list, ok := l.stringList(n)
	if !ok {
		return nil
	}
	var out []string
	for _, s := range list {
		if err := checkPermissionSubject(s, queues); err != "" {
			l.invalid(n, "%s", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// checkPermissionSubject returns why s cannot be a permission entry, or "".
func checkPermissionSubject(s string, queues bool) string {
	if validSubject(s) {
		return ""
	}
	if !queues {
		return "subject " + quote(s) + " is not a valid subject"
	}
	f := strings.Fields(s)
	switch {
	case len(f) != 2:
		return "subject " + quote(s) + " is not a valid subject"
	case !validSubject(f[0]):
		return "subject " + quote(f[0]) + " is not a valid subject"
	case !validSubject(f[1]):
		return "queue " + quote(f[1]) + " is not a valid queue"
	}
	return ""
}

// allowResponses reads allow_responses: true, false, or a map with max and
// expires (zero meaning the default, negative meaning unlimited).
func (l *loader) allowResponses(n node) *ResponsePermission {
	switch v := n.v.(type) {
	case bool:
		if !v {
			return nil
		}
		return &ResponsePermission{MaxMsgs: defaultResponseMaxMsgs, Expires: defaultResponseExpires}
	case map[string]any:
		rp := &ResponsePermission{MaxMsgs: defaultResponseMaxMsgs, Expires: defaultResponseExpires}
		for _, e := range entries(n, v) {
			switch strings.ToLower(e.key) {
			case "max", "max_msgs", "max_messages", "max_responses":
				if x, ok := l.intIn(e, math.MinInt32, math.MaxInt32); ok && x != 0 {
					rp.MaxMsgs = int(x)
				}
			case "expires", "expiration", "ttl":
				if d, ok := l.duration(e); ok && d != 0 {
					rp.Expires = d
				}
			default:
				l.unknown(e)
			}
		}
		return rp
	default:
		l.invalid(n, "expected true, false or a map with max and expires, got %s", describe(n.v))
		return nil
	}
}

// accounts maps the accounts block: a list of names, or a map of account
// name to its users, exports, imports and limits.
func (l *loader) accounts(n node) {
	switch v := n.v.(type) {
	case []any:
		seen := make(map[string]bool)
		for _, el := range elements(n, v) {
			name, ok := l.str(el)
			if !ok || !l.accountName(el, name, seen) {
				continue
			}
			l.opts.Accounts = append(l.opts.Accounts, &Account{Name: name})
		}
	case map[string]any:
		seen := make(map[string]bool)
		for _, e := range entries(n, v) {
			// Entries that only define a variable used elsewhere are
			// not accounts, as in nats-server.
			if e.tk.IsUsedVariable() {
				continue
			}
			m, ok := e.v.(map[string]any)
			if !ok {
				l.invalid(e, "expected an account (a map), got %s", describe(e.v))
				continue
			}
			if !l.accountName(e, e.key, seen) {
				continue
			}
			l.opts.Accounts = append(l.opts.Accounts, l.account(e, m))
		}
	default:
		l.invalid(n, "expected a map of accounts or a list of names, got %s", describe(n.v))
	}
}

// accountName checks a new account's name.
func (l *loader) accountName(n node, name string, seen map[string]bool) bool {
	switch {
	case name == GlobalAccount:
		l.errAt(n, "%q is a reserved account name", name)
		return false
	case name == "":
		l.errAt(n, "account name is empty")
		return false
	case seen[name]:
		l.errAt(n, "duplicate account %q", name)
		return false
	}
	seen[name] = true
	return true
}

func (l *loader) account(n node, m map[string]any) *Account {
	a := &Account{Name: n.key}
	var defaults *Permissions
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "users":
			a.Users = l.users(e, false)
		case "default_permissions":
			defaults = l.permissions(e)
		case "exports":
			a.Exports = l.exports(e)
		case "imports":
			a.Imports = l.imports(e)
		case "limits":
			l.accountLimits(e, a)
		case "nkey", "jetstream", "mappings", "maps", "msg_trace", "trace_dest":
			l.unsupported(e)
		default:
			l.unknown(e)
		}
	}
	applyDefaultPermissions(a.Users, defaults)
	for _, u := range a.Users {
		u.Account = a.Name
	}
	return a
}

func (l *loader) accountLimits(n node, a *Account) {
	m, ok := l.mapOf(n)
	if !ok {
		return
	}
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "max_connections", "max_conn":
			if v, ok := l.intIn(e, math.MinInt32, math.MaxInt32); ok {
				a.MaxConnections = int(v)
			}
		case "max_subscriptions", "max_subs":
			if v, ok := l.intIn(e, math.MinInt32, math.MaxInt32); ok {
				a.MaxSubs = int(v)
			}
		case "max_payload", "max_pay":
			// A negative number means no limit, as in account JWTs.
			if i, isInt := e.v.(int64); isInt && i < 0 {
				a.MaxPayload = -1
			} else if v, ok := l.size(e, math.MaxInt32); ok {
				a.MaxPayload = int32(v)
			}
		case "max_leafnodes", "max_leafs":
			if v, ok := l.intIn(e, math.MinInt32, math.MaxInt32); ok {
				a.MaxLeafNodes = int(v)
			}
		default:
			l.unknown(e)
		}
	}
}

// exports reads an account's exports: [{stream: s} | {service: s}, with
// an optional accounts list].
func (l *loader) exports(n node) []*Export {
	elems, ok := l.arrayOf(n)
	if !ok {
		return nil
	}
	var out []*Export
	for _, el := range elems {
		m, ok := el.v.(map[string]any)
		if !ok {
			l.invalid(el, "expected an export (a map), got %s", describe(el.v))
			continue
		}
		x := &Export{}
		kinds := 0
		var response *node
		for _, e := range entries(el, m) {
			switch strings.ToLower(e.key) {
			case "stream", "service":
				kinds++
				x.Service = strings.EqualFold(e.key, "service")
				if s, ok := l.str(e); ok {
					if !validSubject(s) {
						l.invalid(e, "subject %q is not a valid subject", s)
					}
					x.Subject = s
				}
			case "accounts":
				x.Accounts, _ = l.stringList(e)
			case "account_token_position":
				l.refuse(e, "ignoring it would make the export public")
			case "response", "response_type":
				if response != nil {
					l.errAt(e, "Duplicate response type definition")
					continue
				}
				response = &e
				s, ok := l.str(e)
				if !ok {
					continue
				}
				switch strings.ToLower(s) {
				case "single", "singleton":
					x.Response = "Singleton"
				case "stream":
					x.Response = "Stream"
				case "chunk", "chunked":
					x.Response = "Chunked"
				default:
					l.invalid(e, "Unknown response type: %q", s)
				}
			case "threshold", "response_threshold",
				"response_max_time", "response_time", "latency", "allow_trace":
				l.unsupported(e)
			default:
				l.unknown(e)
			}
		}
		if response != nil && kinds == 1 && !x.Service {
			l.errAt(*response, "Detected response directive on non-service")
		}
		switch kinds {
		case 0:
			// nats-server skips such an entry without a word.
			l.warnAt(el, "export has neither a stream nor a service, ignored")
		case 1:
			out = append(out, x)
		default:
			l.errAt(el, "export has both a stream and a service")
		}
	}
	return out
}

// imports reads an account's imports:
// {stream: {account, subject}, prefix or to} and
// {service: {account, subject}, to}.
func (l *loader) imports(n node) []*Import {
	elems, ok := l.arrayOf(n)
	if !ok {
		return nil
	}
	var out []*Import
	for _, el := range elems {
		m, ok := el.v.(map[string]any)
		if !ok {
			l.invalid(el, "expected an import (a map), got %s", describe(el.v))
			continue
		}
		im := &Import{}
		kinds := 0
		for _, e := range entries(el, m) {
			switch strings.ToLower(e.key) {
			case "stream", "service":
				kinds++
				im.Service = strings.EqualFold(e.key, "service")
				l.importSource(e, im)
			case "prefix":
				l.setString(e, &im.Prefix)
			case "to":
				l.setString(e, &im.To)
			case "share":
				l.setBool(e, &im.Share)
			case "allow_trace":
				l.unsupported(e)
			default:
				l.unknown(e)
			}
		}
		switch {
		case kinds == 0:
			// nats-server skips such an entry without a word.
			l.warnAt(el, "import has neither a stream nor a service, ignored")
		case kinds > 1:
			l.errAt(el, "import has both a stream and a service")
		case im.Service && im.Prefix != "":
			l.errAt(el, "service import cannot have a prefix (use to)")
		case !im.Service && im.Prefix != "" && im.To != "":
			l.errAt(el, "stream import cannot have both a prefix and a to")
		case im.Account != "" && im.Subject != "":
			if im.Service && im.To == "" {
				im.To = im.Subject
			}
			out = append(out, im)
		}
	}
	return out
}

// importSource reads the {account, subject} map of an import.
func (l *loader) importSource(n node, im *Import) {
	m, ok := l.mapOf(n)
	if !ok {
		return
	}
	for _, e := range entries(n, m) {
		switch strings.ToLower(e.key) {
		case "account":
			l.setString(e, &im.Account)
		case "subject":
			if s, ok := l.str(e); ok {
				if !validSubject(s) {
					l.invalid(e, "subject %q is not a valid subject", s)
					continue
				}
				im.Subject = s
			}
		default:
			l.unknown(e)
		}
	}
	if im.Account == "" || im.Subject == "" {
		l.errAt(n, "%s import needs an account and a subject", n.key)
	}
}
