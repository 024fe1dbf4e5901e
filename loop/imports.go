package loop

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canopy-nats/canopy/auth"
)

// Imports connect accounts. Each is an internal subscription in the
// account messages come from, whose delivery re-publishes the message in
// the other account under the mapped subject:
//
//   - a stream import of B from A subscribes in A on the exported subject
//     and delivers into B (with the import's prefix);
//   - a service import of B from A subscribes in B on the local subject
//     and delivers into A; the request's reply subject is replaced by
//     _R_.<route>.<n>, and a second internal subscription in A on
//     _R_.<route>.> carries answers back to the requester's own reply
//     subject in B. Only reply subjects this server issued, and not yet
//     answered or expired, are routed back, so a client of A cannot inject
//     messages into B by publishing under _R_.
//
// Import subscriptions are internal subscriptions (internal.go) whose
// callback is the route's deliver.

// maxImportDepth bounds how many accounts one message may cross; the
// authorization layer already refuses import cycles.
const maxImportDepth = 8

// responseTTL is how long an issued reply subject may be answered, as
// nats-server's default response threshold.
const responseTTL = 2 * time.Minute

const replyPrefix = "_R_."

// route is one import's forwarding: from the account its subscription
// lives in, to the account messages go.
type route struct {
	to      *account
	imp     *auth.Import
	kind    routeKind
	prefix  string // reply prefix of a service route: "_R_.<id>."
	replies *replyMap
}

type routeKind uint8

const (
	streamRoute   routeKind = iota // A's stream into importer B
	serviceRoute                   // B's request into exporter A
	responseRoute                  // A's answer back into B
)

// replyMap holds the reply subjects a service route has issued.
type replyMap struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]pendingReply
}

type pendingReply struct {
	reply   string
	expires int64
	stream  bool // "Stream" or "Chunked" services may answer many times
}

// setupImports creates the internal subscriptions of every account's
// imports. It runs once, in New, before any connection exists.
func (s *Server) setupImports() {
	for _, a := range s.sortedAccounts() {
		s.wireImports(a)
	}
}

// importWiring is what an account's imports installed: the internal
// subscriptions (in whichever account they live), and a key of the imports
// they were made from, so that a resolver update rewires only the
// accounts whose imports changed.
type importWiring struct {
	key  string
	subs []wiredSub
}

type wiredSub struct {
	acc *account
	sub *subscription
}

// importsKey describes an account's imports, for comparison.
func importsKey(info *auth.AccountInfo) string {
	if info == nil {
		return ""
	}
	var b strings.Builder
	for _, im := range info.Imports {
		b.WriteString(im.Account)
		b.WriteByte(' ')
		b.WriteString(im.Subject)
		b.WriteByte(' ')
		b.WriteString(im.To)
		if im.Service {
			b.WriteString(" s")
		}
		if im.Share {
			b.WriteString(" share")
		}
		if im.Export != nil {
			b.WriteString(" " + im.Export.ResponseType)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// wireImports installs the internal subscriptions of account a's imports,
// replacing what an earlier wiring installed when its imports changed. It
// may be called from any goroutine.
func (s *Server) wireImports(a *account) {
	s.mu.Lock()
	info := a.info
	if s.imports == nil {
		s.imports = make(map[*account]*importWiring)
	}
	old := s.imports[a]
	s.mu.Unlock()
	key := importsKey(info)
	if old != nil && old.key == key {
		return
	}
	if old != nil {
		for _, ws := range old.subs {
			ws.acc.sl.Remove(ws.sub.subject, "", ws.sub)
		}
	}
	wiring := &importWiring{key: key}
	add := func(in *account, subject string, r *route) {
		if sub := s.addRouteSub(in, subject, r); sub != nil {
			wiring.subs = append(wiring.subs, wiredSub{in, sub})
		}
	}
	if info != nil {
		for i, im := range info.Imports {
			src := s.lookupAccount(im.Account)
			if src == nil {
				continue
			}
			if !im.Service {
				add(src, im.Subject, &route{to: a, imp: im, kind: streamRoute})
				continue
			}
			id := a.name + "." + strconv.Itoa(i)
			replies := &replyMap{m: make(map[uint64]pendingReply)}
			prefix := replyPrefix + strings.NewReplacer("$", "", ".", "_").Replace(id) + "."
			add(a, im.To, &route{to: src, imp: im, kind: serviceRoute, prefix: prefix, replies: replies})
			add(src, prefix+">", &route{to: a, imp: im, kind: responseRoute, prefix: prefix, replies: replies})
		}
	}
	s.mu.Lock()
	s.imports[a] = wiring
	s.mu.Unlock()
}

func (s *Server) sortedAccounts() []*account {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		out = append(out, a)
	}
	return out
}

func (s *Server) addRouteSub(a *account, subject string, r *route) *subscription {
	sub, err := s.subscribeInternal(a, subject, r.deliver)
	if err != nil {
		s.log.Warnf("Account %q: import on %q not installed: %v", a.name, subject, err)
		return nil
	}
	return sub
}

// deliver carries a message across an import: the internal subscription's
// callback. It returns how many connections received it on the other side.
func (r *route) deliver(w *worker, src *client, sub *subscription, subject, reply []byte, hdr int, msg []byte) int {
	if w.depth >= maxImportDepth {
		return 0
	}
	w.depth++
	defer func() { w.depth-- }()
	switch r.kind {
	case streamRoute:
		mapped := subject
		if r.imp.Prefix != "" || r.imp.To != r.imp.Subject {
			d := w.depth - 1
			w.subj[d] = r.mapStream(w.subj[d][:0], subject)
			mapped = w.subj[d]
		}
		// nats-server delivers a stream import's messages in the
		// exporting account: they count among its sent messages.
		w.statAcc = sub.c.acc
		return w.deliverFrom(src, r.to, mapped, reply, hdr, msg, nil)
	case serviceRoute:
		target := subject
		if r.imp.To != r.imp.Subject {
			target = []byte(r.imp.Subject)
		}
		var mappedReply []byte
		if len(reply) > 0 {
			mappedReply = r.replies.issue(r.prefix, string(reply), r.imp.Export.ResponseType != "Singleton" && r.imp.Export.ResponseType != "", w.now)
		}
		switch d := w.depth - 1; {
		case d == 0 && (src.kind == kindClient || src.kind == kindLeaf):
			// The service learns who asks, as from nats-server: the
			// requester's account (and round trip) in Nats-Request-Info,
			// set by this server whatever the request carried.
			var info []byte
			if r.imp.Share {
				info = src.sharedInfo(sub.c.acc.name)
			} else {
				info = appendRequestInfo(w.reqj[:0], sub.c.acc.name, src.rttOf())
				w.reqj = info
			}
			w.reqi[d], hdr = setRequestInfo(w.reqi[d][:0], msg, hdr, info)
			msg = w.reqi[d]
		case d > 0 && hdr > 0:
			// A further import keeps the header and names the account the
			// request came through (svc), as nats-server does.
			var ci eventClient
			if v := headerValue(msg[:hdr], requestInfoKey); v != nil && json.Unmarshal(v, &ci) == nil {
				ci.Service = sub.c.acc.name
				if b, err := json.Marshal(&ci); err == nil {
					w.reqi[d], hdr = setRequestInfo(w.reqi[d][:0], msg, hdr, b)
					msg = w.reqi[d]
				}
			}
		}
		return w.deliverFrom(src, r.to, target, mappedReply, hdr, msg, nil)
	default:
		orig, ok := r.replies.take(string(subject[len(r.prefix):]), w.now)
		if !ok {
			return 0
		}
		return w.deliverFrom(src, r.to, []byte(orig), reply, hdr, msg, nil)
	}
}

// mapStream is the subject a stream message takes in the importing
// account.
func (r *route) mapStream(dst, subject []byte) []byte {
	if p := r.imp.Prefix; p != "" {
		dst = append(dst, p...)
		if !strings.HasSuffix(p, ".") {
			dst = append(dst, '.')
		}
		return append(dst, subject...)
	}
	return append(dst, r.imp.To...)
}

// issue records a requester's reply subject and returns the one the
// service answers on.
func (m *replyMap) issue(prefix, reply string, stream bool, now int64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	n := m.next
	if len(m.m) > 1024 && n%256 == 0 {
		for k, p := range m.m {
			if p.expires < now {
				delete(m.m, k)
			}
		}
	}
	m.m[n] = pendingReply{reply: reply, expires: now + int64(responseTTL), stream: stream}
	b := make([]byte, 0, len(prefix)+20)
	b = append(b, prefix...)
	return strconv.AppendUint(b, n, 10)
}

// take returns the requester's reply subject for an answer, forgetting it
// unless the service may answer more than once.
func (m *replyMap) take(token string, now int64) (string, bool) {
	n, err := strconv.ParseUint(token, 10, 64)
	if err != nil {
		return "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.m[n]
	if !ok || p.expires < now {
		delete(m.m, n)
		return "", false
	}
	if !p.stream {
		delete(m.m, n)
	}
	return p.reply, true
}

// requestInfoHdr is the header nats-server puts on a request that crosses
// a service import, naming the requester.
const requestInfoHdr = "Nats-Request-Info"

var requestInfoKey = []byte(requestInfoHdr)

// appendRequestInfo appends what nats-server's Nats-Request-Info shows of
// a requester that shares no details: its account and round trip.
func appendRequestInfo(dst []byte, acc string, rtt int64) []byte {
	dst = append(dst, `{"acc":`...)
	dst = strconv.AppendQuote(dst, acc)
	if rtt > 0 {
		dst = append(dst, `,"rtt":`...)
		dst = strconv.AppendInt(dst, rtt, 10)
	}
	return append(dst, '}')
}

// sharedInfo is Nats-Request-Info for an import that shares the
// requester's details (share: true), in nats-server's keys and order. Not
// yet: the user JWT's name tag and tags, and the issuer key, which
// nats-server adds in operator mode.
func (c *client) sharedInfo(acc string) []byte {
	ci := c.connInfo(false)
	start := ci.Start.UTC()
	v := eventClient{Start: &start, Host: ci.IP, ID: ci.CID, Account: acc, User: ci.User, Name: ci.Name,
		Lang: ci.Lang, Version: ci.Version, RTT: ci.RTT, Server: c.srv.name, Kind: ci.Kind, ClientType: ci.Type}
	b, _ := json.Marshal(&v)
	return b
}

// setRequestInfo appends to dst msg (with its first hdr bytes a header
// block, or none when hdr is 0) with Nats-Request-Info set to info, a JSON
// object. Any such header already there is dropped. It returns the message
// and the new header length.
func setRequestInfo(dst, msg []byte, hdr int, info []byte) ([]byte, int) {
	start := len(dst)
	body := msg[hdr:]
	if hdr > 0 {
		block := msg[:hdr-2] // the final CRLF ends the block
		i := bytes.Index(block, []byte("\r\n"))
		if i < 0 {
			return append(dst, msg...), hdr
		}
		dst = append(dst, block[:i+2]...)
		for rest := block[i+2:]; len(rest) > 0; {
			line := rest
			n := bytes.Index(rest, []byte("\r\n"))
			if n >= 0 {
				line, rest = rest[:n+2], rest[n+2:]
			} else {
				rest = nil
			}
			if k := bytes.IndexByte(line, ':'); k >= 0 && bytes.EqualFold(bytes.TrimSpace(line[:k]), requestInfoKey) {
				continue
			}
			dst = append(dst, line...)
		}
	} else {
		dst = append(dst, "NATS/1.0\r\n"...)
	}
	dst = append(dst, requestInfoHdr+": "...)
	dst = append(dst, info...)
	dst = append(dst, "\r\n\r\n"...)
	n := len(dst) - start
	return append(dst, body...), n
}

// headerValue returns the value of header key (any case) in a header
// block, or nil.
func headerValue(block, key []byte) []byte {
	i := bytes.Index(block, []byte("\r\n"))
	for i >= 0 && i+2 < len(block) {
		block = block[i+2:]
		line := block
		if i = bytes.Index(block, []byte("\r\n")); i >= 0 {
			line = block[:i]
		}
		if k := bytes.IndexByte(line, ':'); k >= 0 && bytes.EqualFold(bytes.TrimSpace(line[:k]), key) {
			return bytes.TrimSpace(line[k+1:])
		}
	}
	return nil
}
