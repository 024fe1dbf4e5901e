package auth

import (
	"bytes"
	"encoding/json"

	"github.com/canopy-nats/canopy/conf"
)

// Subject prefixes that leaf permission checks exempt (nats-server
// leafnode.go and client.go).
const (
	prefixLoopDetect = "$LDS." // leafnode loop detection subscriptions
	prefixGWReply    = "_GR_." // gateway routed replies
	prefixGWReplyOld = "$GR."  // old-style gateway routed replies
	prefixSvcReply   = "_R_."  // service import replies
	prefixJSAck      = "$JS.ACK."
)

// JetStreamDenies returns the subjects a hub denies in both directions on
// every leaf connection of a non-system account (nats-server
// denyAllClientJs), for WithDeny. Each call returns a fresh slice.
func JetStreamDenies() []string {
	return []string{"$JS.API.>", "$KV.>", "$OBJ.>"}
}

// SystemJetStreamDenies is JetStreamDenies for a leaf bound to the system
// account when JetStream is not extended across the link (nats-server
// denyAllJs).
func SystemJetStreamDenies() []string {
	return []string{"$JSC.>", "$NRG.>", "$JS.API.>", "$KV.>", "$OBJ.>"}
}

// Leaf returns a copy with leaf-connection semantics: CanSubscribe also
// accepts a wildcard subscription that could overlap an allow entry. The
// soliciting side (spoke) uses it unswapped: publish = the hub's "export"
// plus deny_exports, subscribe = "import" plus deny_imports. A nil receiver
// stays nil.
func (p *Permissions) Leaf() *Permissions {
	if p == nil {
		return nil
	}
	n := *p
	n.leaf = true
	return &n
}

// Swap returns the permissions a hub applies to a leaf connection
// authenticated as this user: publish and subscribe change places, because
// messages flow the other way (what the user may subscribe to is what the
// hub may send down the link; what it may publish is what the hub asks the
// leaf for). The result has leaf semantics (see Leaf). The INFO
// import/export lists and LeafSendAllowed keep using the configured,
// unswapped lists. A nil receiver stays nil.
//
// With h := p.Swap().WithDeny(connectDenyPub, nil).WithDeny(js, js) (js
// from JetStreamDenies) and a Checker c on h, a hub checks, as nats-server
// v2.15.2 does:
//
//   - a message to the leaf (MSG/LMSG down): c.Publish(subject), else drop
//     it silently;
//   - an LS+ from the leaf: skip when LeafSubExempt; a literal subject needs
//     c.Publish(subject), else -ERR subscription violation and close; a
//     wildcard is accepted (use h.NeedsDeliveryFilter for the deny filter);
//   - an LMSG from the leaf: c.LeafSend(subject), else -ERR publish
//     violation and close;
//   - an LS+ to the leaf for a local subscription: h.CanSubscribe(subject,
//     ""), which equals p.CouldOverlapPublish(subject) before the denies.
func (p *Permissions) Swap() *Permissions {
	if p == nil {
		return nil
	}
	n := *p
	n.pub, n.sub = p.sub, p.pub
	n.leaf = true
	return &n
}

// WithDeny returns a copy with extra deny entries merged in: pubDeny into
// the publish check, subDeny into the subscribe check (and the delivery
// filter). Entries already present or invalid are skipped. Typical uses
// are a leaf's deny_imports/deny_exports, the deny_pub a leaf sends in its
// CONNECT, and JetStreamDenies. The INFO import/export lists are left as
// configured, as in nats-server. On a nil receiver it builds permissions
// that allow everything but the denies.
func (p *Permissions) WithDeny(pubDeny, subDeny []string) *Permissions {
	var n Permissions
	if p != nil {
		n = *p
	}
	if len(pubDeny) > 0 {
		d := n.pub.deny.clone()
		for _, e := range pubDeny {
			d.add(e, false)
		}
		n.pub.deny = d
	}
	if len(subDeny) > 0 {
		d := n.sub.deny.clone()
		for _, e := range subDeny {
			d.add(e, true)
		}
		n.sub.deny = d
		dd := n.deliverDeny.clone()
		for _, e := range subDeny {
			dd.add(e, true)
		}
		n.deliverDeny = dd
	}
	return &n
}

// CouldOverlapPublish reports whether a hub should send LS+ for a local
// subscription on pattern to a leaf authenticated with these (unswapped)
// permissions: only for subjects the leaf may publish into the hub. A
// literal subject must be allowed; a wildcard subscription passes when it
// could overlap an allow entry (a hub client's "SUB >" gives "LS+ >" to a
// leaf allowed "up.>"). A publish deny entry matching the pattern as a
// subject rejects it. It equals p.Swap().CanSubscribe(pattern, "").
func (p *Permissions) CouldOverlapPublish(pattern string) bool {
	if p == nil {
		return true
	}
	allowed := true
	if a := p.pub.allow; a != nil {
		allowed = a.matchPlain(pattern) || (hasWildcard(pattern) && a.overlapsPlain(pattern))
	}
	if allowed && p.pub.deny != nil {
		allowed = !p.pub.deny.matchPlain(pattern)
	}
	return allowed
}

// LeafSendAllowed reports whether a hub accepts an LMSG/HMSG from a leaf on
// subject: the configured publish (export) lists decide, without the
// JetStream or CONNECT denies merged in later (nats-server
// leafSendAllowed), and service-import replies and JetStream acks are
// always accepted. Tracked allow_responses replies are Checker's business
// (Checker.LeafSend). Safe for concurrent use; does not allocate.
func (p *Permissions) LeafSendAllowed(subject []byte) bool {
	if LeafMsgExempt(subject) || p == nil {
		return true
	}
	return p.export.publish(bytesToString(subject))
}

// LeafSubExempt reports whether an LS+ subject skips permission checks:
// loop detection and gateway reply subscriptions.
func LeafSubExempt(subject []byte) bool {
	if len(subject) == 0 || (subject[0] != '$' && subject[0] != '_') {
		return false
	}
	return bytes.HasPrefix(subject, []byte(prefixLoopDetect)) ||
		bytes.HasPrefix(subject, []byte(prefixGWReplyOld)) ||
		bytes.HasPrefix(subject, []byte(prefixGWReply))
}

// LeafMsgExempt reports whether a leaf message subject skips permission
// checks: service import replies (_R_.) and JetStream acks ($JS.ACK.),
// which travel on interest the hub itself created.
func LeafMsgExempt(subject []byte) bool {
	if len(subject) == 0 || (subject[0] != '$' && subject[0] != '_') {
		return false
	}
	return (len(subject) > len(prefixSvcReply) && bytes.HasPrefix(subject, []byte(prefixSvcReply))) ||
		(len(subject) > len(prefixJSAck) && bytes.HasPrefix(subject, []byte(prefixJSAck)))
}

// LeafInfo returns what a hub tells a leaf in its connect-info INFO: import
// is the user's subscribe lists, export its publish lists, both as
// configured (nil when the user had none). The caller must not modify them.
func (p *Permissions) LeafInfo() (imp, exp *SubjectPermission) {
	if p == nil {
		return nil, nil
	}
	return p.imp, p.exp
}

// ImportExportJSON returns the "import" and "export" JSON objects for a
// hub's INFO ({"allow":[...],"deny":[...]}), or nil for a list the user
// does not have.
func (p *Permissions) ImportExportJSON() (imp, exp []byte) {
	i, e := p.LeafInfo()
	return marshalList(i), marshalList(e)
}

// marshalList encodes without HTML escaping, so ">" stays ">" as in the
// observed INFO (either form decodes the same).
func marshalList(l *SubjectPermission) []byte {
	if l == nil {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(l) // cannot fail for string slices
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// SpokePermissions builds what a soliciting leaf (spoke) enforces on its
// link: publish (messages it forwards, and LS+ it accepts from the hub) is
// the hub's "export" list plus deny_exports, subscribe (LS+ it sends, and
// messages it accepts) is "import" plus deny_imports, with leaf semantics
// and no swap. Before the hub's INFO arrives, or when it carries no lists,
// imp and exp are nil and only the denies apply. Invalid entries are
// skipped. Add JetStreamDenies with WithDeny, as nats-server does.
func SpokePermissions(imp, exp *SubjectPermission, denyImports, denyExports []string) *Permissions {
	cp := &conf.Permissions{}
	if exp != nil {
		cp.Publish = &conf.SubjectPermission{Allow: exp.Allow, Deny: exp.Deny}
	}
	if imp != nil {
		cp.Subscribe = &conf.SubjectPermission{Allow: imp.Allow, Deny: imp.Deny}
	}
	return compile(cp).Leaf().WithDeny(denyExports, denyImports)
}
