package auth

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/sublist"
)

// Defaults of allow_responses (nats-server DEFAULT_ALLOW_RESPONSE_*).
const (
	DefaultResponseMaxMsgs = 1
	DefaultResponseExpires = 2 * time.Minute
)

// Permissions are a connection's compiled publish and subscribe rights.
//
// A Permissions is immutable once built and safe for concurrent use; every
// method that changes something (Swap, Leaf, WithDeny) returns a new value.
// A nil *Permissions allows everything, and all methods accept a nil
// receiver.
type Permissions struct {
	pub, sub rule
	// deliverDeny holds the subscribe denies that are checked again when a
	// message is delivered to a wildcard or queue subscription, because a
	// deny entry that merely overlaps such a subscription does not reject it.
	deliverDeny *list
	resp        *conf.ResponsePermission
	// leaf relaxes CanSubscribe for leaf connections: a wildcard
	// subscription passes when it could overlap an allow entry.
	leaf bool
	// export is the publish rule as configured, before Swap and WithDeny:
	// a hub checks a leaf's messages against it (LeafSendAllowed).
	export rule
	// imp and exp are the subscribe and publish lists as configured, for
	// the "import"/"export" fields of a hub's INFO to a leaf.
	imp, exp *SubjectPermission
}

// SubjectPermission is an allow and a deny list as nats-server puts them in
// JSON (the leaf INFO "import" and "export" objects).
type SubjectPermission struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

// rule is one direction (publish or subscribe): an allow list and a deny
// list. A nil allow list allows everything; a nil deny list denies nothing.
type rule struct {
	allow, deny *list
}

// list is a compiled subject list. Literal subjects go into a map, so the
// common case costs one hash lookup. Wildcard entries are scanned, but only
// those whose first token is the subject's first token or a wildcard: a
// long list of "svcN.*.x" entries costs one map lookup for an unrelated
// subject. Entries qualified with a queue group ("foo.* workers") are kept
// apart: they only ever speak about queue subscriptions.
type list struct {
	lits     map[string]struct{}
	wild     []string            // every wildcard entry, in order
	byFirst  map[string][]string // wildcard entries by their literal first token
	anyFirst []string            // wildcard entries starting with "*" or ">"
	queued   []queueEntry
}

type queueEntry struct {
	subject, queue string
}

// Compile builds Permissions from a configuration block. It returns nil,
// nil for nil (everything allowed). Invalid subjects are an error, worded as
// nats-server words them ("subject %q is not a valid subject").
//
// As in nats-server, allow_responses without a publish allow list turns
// publishing into "deny all except replies", and zero MaxMsgs / Expires take
// the defaults (1 message, 2 minutes). An empty but non-nil publish allow
// list denies every publish; an empty subscribe allow list allows
// everything, because nats-server builds the subscribe allow tree only for
// a non-empty list.
func Compile(p *conf.Permissions) (*Permissions, error) {
	if p == nil {
		return nil, nil
	}
	if err := checkPermissionSubjects(p); err != nil {
		return nil, err
	}
	return compile(p), nil
}

// checkPermissionSubjects is nats-server's validatePermissionSubjects.
func checkPermissionSubjects(p *conf.Permissions) error {
	if p.Publish != nil {
		if err := checkSubjects(p.Publish.Allow, false); err != nil {
			return fmt.Errorf("publish allow: %w", err)
		}
		if err := checkSubjects(p.Publish.Deny, false); err != nil {
			return fmt.Errorf("publish deny: %w", err)
		}
	}
	if p.Subscribe != nil {
		if err := checkSubjects(p.Subscribe.Allow, true); err != nil {
			return fmt.Errorf("subscribe allow: %w", err)
		}
		if err := checkSubjects(p.Subscribe.Deny, true); err != nil {
			return fmt.Errorf("subscribe deny: %w", err)
		}
	}
	return nil
}

func checkSubjects(entries []string, queueOK bool) error {
	for _, s := range entries {
		if sublist.ValidSubject(s) {
			continue
		}
		f := strings.Fields(s)
		switch {
		case !queueOK || len(f) != 2:
			return fmt.Errorf("subject %q is not a valid subject", s)
		case !sublist.ValidSubject(f[0]):
			return fmt.Errorf("subject %q is not a valid subject", f[0])
		case !sublist.ValidSubject(f[1]):
			return fmt.Errorf("queue %q is not a valid queue", f[1])
		}
	}
	return nil
}

// compile builds Permissions without validating; invalid entries are
// skipped, which is what nats-server does for permissions that come from a
// JWT (it logs them and carries on).
func compile(p *conf.Permissions) *Permissions {
	pub := p.Publish
	var resp *conf.ResponsePermission
	if p.Response != nil {
		r := *p.Response
		if r.MaxMsgs == 0 {
			r.MaxMsgs = DefaultResponseMaxMsgs
		}
		if r.Expires == 0 {
			r.Expires = DefaultResponseExpires
		}
		resp = &r
		// Responses only make sense when publishing is otherwise
		// restricted: turn off the blanket allow.
		if pub == nil || pub.Allow == nil {
			np := &conf.SubjectPermission{Allow: []string{}}
			if pub != nil {
				np.Deny = pub.Deny
			}
			pub = np
		}
	}
	ps := &Permissions{resp: resp}
	if pub != nil {
		if pub.Allow != nil {
			ps.pub.allow = buildList(pub.Allow, false)
		}
		if len(pub.Deny) > 0 {
			ps.pub.deny = buildList(pub.Deny, false)
		}
		ps.exp = &SubjectPermission{Allow: clone(pub.Allow), Deny: clone(pub.Deny)}
	}
	if s := p.Subscribe; s != nil {
		if len(s.Allow) > 0 {
			ps.sub.allow = buildList(s.Allow, true)
		}
		if len(s.Deny) > 0 {
			ps.sub.deny = buildList(s.Deny, true)
			ps.deliverDeny = ps.sub.deny
		}
		ps.imp = &SubjectPermission{Allow: clone(s.Allow), Deny: clone(s.Deny)}
	}
	ps.export = ps.pub
	return ps
}

func clone(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

// buildList compiles entries. With queues, "subject queue" entries become
// queue entries; without, the queue part of such an entry is dropped (a
// publish deny keeps its subject scope, as nats-server does).
func buildList(entries []string, queues bool) *list {
	l := &list{}
	for _, e := range entries {
		l.add(e, queues)
	}
	return l
}

// add inserts one entry unless it is invalid or already present, and
// reports whether it inserted.
func (l *list) add(entry string, queues bool) bool {
	subject, queue, ok := splitSubjectQueue(entry)
	if !ok {
		return false
	}
	if queue != "" && queues {
		for _, q := range l.queued {
			if q.subject == subject && q.queue == queue {
				return false
			}
		}
		l.queued = append(l.queued, queueEntry{subject, queue})
		return true
	}
	if isLiteral(subject) {
		if _, dup := l.lits[subject]; dup {
			return false
		}
		if l.lits == nil {
			l.lits = make(map[string]struct{})
		}
		l.lits[subject] = struct{}{}
		return true
	}
	for _, w := range l.wild {
		if w == subject {
			return false
		}
	}
	l.wild = append(l.wild, subject)
	if ft := firstToken(subject); ft == "*" || ft == ">" {
		l.anyFirst = append(l.anyFirst, subject)
	} else {
		if l.byFirst == nil {
			l.byFirst = make(map[string][]string)
		}
		l.byFirst[ft] = append(l.byFirst[ft], subject)
	}
	return true
}

// firstToken returns the subject up to its first '.'.
func firstToken(subject string) string {
	if i := strings.IndexByte(subject, '.'); i >= 0 {
		return subject[:i]
	}
	return subject
}

// clone copies l (nil gives an empty list) for WithDeny to extend.
func (l *list) clone() *list {
	n := &list{}
	if l == nil {
		return n
	}
	for lit := range l.lits {
		n.add(lit, false)
	}
	for _, w := range l.wild {
		n.add(w, false)
	}
	n.queued = append([]queueEntry(nil), l.queued...)
	return n
}

// splitSubjectQueue splits "subject" or "subject queue".
func splitSubjectQueue(entry string) (subject, queue string, ok bool) {
	if sublist.ValidSubject(entry) {
		return entry, "", true
	}
	f := strings.Fields(entry)
	switch {
	case len(f) == 1 && sublist.ValidSubject(f[0]):
		return f[0], "", true
	case len(f) == 2 && sublist.ValidSubject(f[0]) && sublist.ValidSubject(f[1]):
		return f[0], f[1], true
	}
	return "", "", false
}

// isLiteral reports whether a valid subject has no wildcard token.
func isLiteral(subject string) bool { return sublist.ValidLiteral(subject) }

// hasWildcard reports whether a valid subject has a wildcard token.
func hasWildcard(subject string) bool { return !sublist.ValidLiteral(subject) }

// matchPlain reports whether some unqualified entry matches subject, taking
// the subject's tokens literally (a subject token "*" or ">" is matched only
// by a wildcard entry). This is how nats-server's Sublist.Match answers for
// a subscription subject too, so it serves both publish subjects and
// subscription subjects.
func (l *list) matchPlain(subject string) bool {
	if _, ok := l.lits[subject]; ok {
		return true
	}
	if len(l.wild) == 0 {
		return false
	}
	for _, w := range l.byFirst[firstToken(subject)] {
		if sublist.Matches(w, subject) {
			return true
		}
	}
	for _, w := range l.anyFirst {
		if sublist.Matches(w, subject) {
			return true
		}
	}
	return false
}

// overlapsPlain reports whether some unqualified entry could match a
// subject that the pattern also matches.
func (l *list) overlapsPlain(pattern string) bool {
	for lit := range l.lits {
		if sublist.Matches(pattern, lit) {
			return true
		}
	}
	for _, w := range l.wild {
		if sublist.Overlaps(w, pattern) {
			return true
		}
	}
	return false
}

// queueVerdict looks at the queue-qualified entries that match subject. It
// reports whether any matched and, if so, whether one of them names queue
// (exactly, or as a wildcard pattern the queue name falls under).
func (l *list) queueVerdict(subject, queue string) (matched, named bool) {
	for _, q := range l.queued {
		if !sublist.Matches(q.subject, subject) {
			continue
		}
		matched = true
		if q.queue == queue || (hasWildcard(q.queue) && sublist.SubsetOf(queue, q.queue)) {
			return true, true
		}
	}
	return matched, false
}

// publish is the publish check of one rule, for a literal subject.
func (r *rule) publish(subject string) bool {
	if r.allow != nil && !r.allow.matchPlain(subject) {
		return false
	}
	return r.deny == nil || !r.deny.matchPlain(subject)
}

// CanPublish reports whether the connection may publish to subject. It is
// the full check (allow list, then deny list) without any cache and without
// allow_responses, which lives in Checker. It does not allocate and is safe
// for concurrent use; subject is not retained.
func (p *Permissions) CanPublish(subject []byte) bool {
	if p == nil {
		return true
	}
	return p.pub.publish(bytesToString(subject))
}

// publishRestricted reports whether publishing is restricted at all.
func (p *Permissions) publishRestricted() bool {
	return p != nil && (p.pub.allow != nil || p.pub.deny != nil)
}

// CanSubscribe reports whether the connection may subscribe to subject
// (which may contain wildcards) with the optional queue group, with
// nats-server's semantics (client.go canSubscribeInternal):
//
//   - an unqualified allow entry must match the subscription subject, taken
//     as a subject; with a queue, queue-qualified allow entries that match
//     decide instead ("foo" allows plain and any queue, "foo v1" alone
//     allows only queue v1);
//   - for a leaf connection (Leaf, Swap), a wildcard subscription that no
//     entry matches still passes when it could overlap an allow entry;
//   - a deny entry rejects a subscription it matches (as a subject); a deny
//     entry that merely overlaps a wildcard subscription does not, and the
//     server filters deliveries instead (NeedsDeliveryFilter).
func (p *Permissions) CanSubscribe(subject, queue string) bool {
	if p == nil {
		return true
	}
	allowed := true
	if a := p.sub.allow; a != nil {
		allowed = a.matchPlain(subject)
		if queue != "" {
			if matched, named := a.queueVerdict(subject, queue); matched {
				allowed = named
			}
		}
		if !allowed && p.leaf && hasWildcard(subject) {
			allowed = a.overlapsPlain(subject)
		}
	}
	if allowed && p.sub.deny != nil {
		allowed = !p.sub.deny.matchPlain(subject)
		if allowed && queue != "" {
			if _, named := p.sub.deny.queueVerdict(subject, queue); named {
				allowed = false
			}
		}
	}
	return allowed
}

// NeedsDeliveryFilter reports whether messages delivered to an (already
// allowed) subscription must be checked with DeniedForDelivery: the
// subscription is a wildcard or queue subscription and some subscribe deny
// entry overlaps it. Call it once per subscription, not per message.
func (p *Permissions) NeedsDeliveryFilter(subject, queue string) bool {
	if p == nil || p.deliverDeny == nil || (queue == "" && !hasWildcard(subject)) {
		return false
	}
	d := p.deliverDeny
	for lit := range d.lits {
		if sublist.Overlaps(lit, subject) {
			return true
		}
	}
	for _, w := range d.wild {
		if sublist.Overlaps(w, subject) {
			return true
		}
	}
	for _, q := range d.queued {
		if sublist.Overlaps(q.subject, subject) {
			return true
		}
	}
	return false
}

// DeniedForDelivery reports whether a message on the literal subject must
// not be delivered to a subscription of this connection with the given
// queue ("" for none), because a subscribe deny entry covers it
// (nats-server checkDenySub). It does not allocate and is safe for
// concurrent use.
func (p *Permissions) DeniedForDelivery(subject []byte, queue string) bool {
	if p == nil || p.deliverDeny == nil {
		return false
	}
	s := bytesToString(subject)
	if p.deliverDeny.matchPlain(s) {
		return true
	}
	if queue == "" {
		return false
	}
	_, named := p.deliverDeny.queueVerdict(s, queue)
	return named
}

// Response returns the allow_responses setting with defaults applied, or
// nil when responses are not tracked. The caller must not modify it.
func (p *Permissions) Response() *conf.ResponsePermission {
	if p == nil {
		return nil
	}
	return p.resp
}

// Public lists the permissions in force as nats-server's user info shows
// them: the publish and subscribe allow and deny lists (a queue entry as
// "subject queue"), each sorted, and the response permission. It returns
// nil for nil (everything allowed).
func (p *Permissions) Public() *PublicPermissions {
	if p == nil {
		return nil
	}
	return &PublicPermissions{
		Publish:   &SubjectPermission{Allow: p.pub.allow.entries(), Deny: p.pub.deny.entries()},
		Subscribe: &SubjectPermission{Allow: p.sub.allow.entries(), Deny: p.sub.deny.entries()},
		Response:  publicResponse(p.resp),
	}
}

func publicResponse(r *conf.ResponsePermission) *PublicResponseRule {
	if r == nil {
		return nil
	}
	return &PublicResponseRule{MaxMsgs: r.MaxMsgs, Expires: r.Expires}
}

// PublicPermissions are nats-server's Permissions in JSON.
type PublicPermissions struct {
	Publish   *SubjectPermission  `json:"publish"`
	Subscribe *SubjectPermission  `json:"subscribe"`
	Response  *PublicResponseRule `json:"responses,omitempty"`
}

// PublicResponseRule is conf.ResponsePermission in nats-server's JSON.
type PublicResponseRule struct {
	MaxMsgs int           `json:"max"`
	Expires time.Duration `json:"ttl"`
}

// entries lists a compiled list's entries, sorted; nil for none.
func (l *list) entries() []string {
	if l == nil {
		return nil
	}
	var out []string
	for s := range l.lits {
		out = append(out, s)
	}
	out = append(out, l.wild...)
	for _, q := range l.queued {
		out = append(out, q.subject+" "+q.queue)
	}
	sort.Strings(out)
	return out
}
