package loop

import (
	"time"

	"github.com/nats-io/nuid"
)

// The system account's events, in nats-server v2.15.2's subjects and
// shapes: a client's connect and disconnect in its account, failed
// logins, the server's periodic STATSZ and its shutdown.
//
// A connection's loop only takes a copy of what the event says (a
// ConnInfo, which it builds anyway for /connz's closed records) and queues
// it for the system goroutine, which encodes and publishes it; a loop
// never encodes JSON for an event nor waits for one.

// The periodic STATSZ starts soon after start and backs off to every ten
// seconds; it is sent only while someone listens (nats-server events.go).
const (
	statszFirst = 250 * time.Millisecond
	statszMax   = 10 * time.Second
)

const (
	connectEventType    = "io.nats.server.advisory.v1.client_connect"
	disconnectEventType = "io.nats.server.advisory.v1.client_disconnect"
)

type eventKind uint8

const (
	evConnect eventKind = iota
	evDisconnect
	evAuthError
	evConns // only the account's connection count
)

// sysEvent is one event waiting for the system goroutine.
type sysEvent struct {
	kind eventKind
	ci   *ConnInfo
}

// statszTimer is the periodic STATSZ's current interval; owned by the
// system goroutine.
type statszTimer struct {
	every time.Duration
}

type typedEvent struct {
	Type string    `json:"type"`
	ID   string    `json:"id"`
	Time time.Time `json:"timestamp"`
}

// eventClient is nats-server's ClientInfo as events carry it.
type eventClient struct {
	Start      *time.Time    `json:"start,omitempty"`
	Host       string        `json:"host,omitempty"`
	ID         uint64        `json:"id,omitempty"`
	Account    string        `json:"acc,omitempty"`
	Service    string        `json:"svc,omitempty"` // Nats-Request-Info past a second import only
	User       string        `json:"user,omitempty"`
	Name       string        `json:"name,omitempty"`
	Lang       string        `json:"lang,omitempty"`
	Version    string        `json:"ver,omitempty"`
	RTT        time.Duration `json:"rtt,omitempty"`
	Server     string        `json:"server,omitempty"` // Nats-Request-Info of a shared import only
	Stop       *time.Time    `json:"stop,omitempty"`
	Jwt        string        `json:"jwt,omitempty"`
	NameTag    string        `json:"name_tag,omitempty"`
	Kind       string        `json:"kind,omitempty"`
	ClientType string        `json:"client_type,omitempty"`
}

type msgBytes struct {
	Msgs  int64 `json:"msgs"`
	Bytes int64 `json:"bytes"`
}

type connectEvent struct {
	typedEvent
	Server *serverInfo `json:"server"`
	Client eventClient `json:"client"`
}

type disconnectEvent struct {
	typedEvent
	Server   *serverInfo `json:"server"`
	Client   eventClient `json:"client"`
	Sent     msgBytes    `json:"sent"`
	Received msgBytes    `json:"received"`
	Reason   string      `json:"reason"`
}

// queueEvent hands an event to the system goroutine without waiting.
func (st *sysState) queueEvent(ev *sysEvent) {
	st.queue(sysReq{ev: ev})
}

// connectEvent is called on c's loop once c's CONNECT is accepted, or
// once a leaf link it solicited is established. Nothing is built when no
// one listens to the account's events: the system services run by
// default, and most servers have no listener.
func (s *Server) connectEvent(c *client) {
	if s.sys == nil || (c.kind != kindClient && c.kind != kindLeaf) {
		return
	}
	if acc := c.acc; acc != nil && !s.sys.listened("$SYS.ACCOUNT."+acc.name+".CONNECT") &&
		(acc.name == "$G" || !s.sys.listened("$SYS.ACCOUNT."+acc.name+".SERVER.CONNS") &&
			!s.sys.listened("$SYS.SERVER.ACCOUNT."+acc.name+".CONNS")) {
		return
	}
	s.sys.queueEvent(&sysEvent{kind: evConnect, ci: eventInfo(c, c.connInfo(false))})
}

// eventInfo is what an event says of c: a link this server solicited has
// no client name nor version in nats-server's events (its CONNECT options
// are the ones it sent). ci is copied when changed: it may be the closed
// record /connz keeps.
func eventInfo(c *client, ci *ConnInfo) *ConnInfo {
	if c.kind == kindLeaf && c.leaf.remote != nil && (ci.Name != "" || ci.Version != "") {
		e := *ci
		e.Name, e.Version = "", ""
		return &e
	}
	return ci
}

// connsEvent announces the connection count of c's account: a leaf link
// accepted by this server changes it without a connect event.
func (s *Server) connsEvent(c *client) {
	if s.sys == nil || c.acc == nil {
		return
	}
	s.sys.queueEvent(&sysEvent{kind: evConns, ci: &ConnInfo{Account: c.acc.name}})
}

// noAccount is what nats-server's events name as the account of a
// connection refused before it had one.
const noAccount = "N/A"

// closeEvent is called on c's loop when it closes, with its closed record
// (noteClosed): a disconnect for a client that had connected or a leaf
// link that was established, and a failed login also as an authorization
// error (a refused leaf, which has no record, only as that).
func (s *Server) closeEvent(c *client, ci *ConnInfo) {
	if s.sys == nil || (c.kind != kindClient && c.kind != kindLeaf) {
		return
	}
	if c.kind == kindLeaf {
		switch {
		case c.leaf.established:
			s.sys.queueEvent(&sysEvent{kind: evDisconnect, ci: eventInfo(c, ci)})
		case c.reason == reasonAuthFailure:
			// A refused leaf login: the authorization error alone, as
			// nats-server sends it, with no account (so no disconnect).
			if ci == nil {
				ci = c.connInfo(false)
				ci.Stop = time.Now()
				ci.Reason = string(c.reason)
				if c.meta != nil {
					// The name its CONNECT gave; the link never got one.
					ci.Name = c.meta.name
				}
			}
			ci.Account = noAccount
			s.sys.queueEvent(&sysEvent{kind: evAuthError, ci: ci})
		}
		return
	}
	if c.reason == reasonAuthFailure {
		s.sys.queueEvent(&sysEvent{kind: evAuthError, ci: ci})
	}
	if c.connected || c.reason == reasonAuthFailure {
		s.sys.queueEvent(&sysEvent{kind: evDisconnect, ci: ci})
	}
}

// publishEvent encodes and publishes one event on the system goroutine.
func (st *sysState) publishEvent(ev *sysEvent) {
	ci := ev.ci
	acc := ci.Account
	if acc == "" {
		acc = "$G"
	}
	if ev.kind == evConns {
		if acc != "$G" {
			st.sendConnsListened(acc)
		}
		return
	}
	start := ci.Start.UTC()
	cl := eventClient{Start: &start, Host: ci.IP, ID: ci.CID, Account: acc, User: ci.User,
		Name: ci.Name, Lang: ci.Lang, Version: ci.Version, RTT: ci.RTT,
		Kind: ci.Kind, ClientType: ci.Type}
	if acc != noAccount {
		// A connection refused before it had an account has no name tag
		// in nats-server's event.
		cl.NameTag = st.srv.nameTag(acc)
	}
	now := time.Now().UTC()
	id := st.srv.id
	switch ev.kind {
	case evConnect:
		subj := "$SYS.ACCOUNT." + acc + ".CONNECT"
		if !st.listened(subj) {
			break
		}
		st.send(st.acc, subj, &connectEvent{
			typedEvent: typedEvent{Type: connectEventType, ID: nuid.Next(), Time: now},
			Server:     st.info(), Client: cl})
	case evDisconnect, evAuthError:
		stop := ci.Stop.UTC()
		cl.Stop = &stop
		m := &disconnectEvent{
			typedEvent: typedEvent{Type: disconnectEventType, ID: nuid.Next(), Time: now},
			Server:     st.info(), Client: cl,
			Sent:     msgBytes{ci.InMsgs, ci.InBytes},
			Received: msgBytes{ci.OutMsgs, ci.OutBytes},
			Reason:   ci.Reason,
		}
		subj := "$SYS.ACCOUNT." + acc + ".DISCONNECT"
		if ev.kind == evAuthError {
			subj = "$SYS.SERVER." + id + ".CLIENT.AUTH.ERR"
		}
		if st.listened(subj) {
			st.send(st.acc, subj, m)
		}
	}
	if ev.kind != evAuthError && acc != "$G" {
		// Like nats-server, every account but the global one also
		// announces its new connection count, on the old subject and
		// the new.
		st.sendConnsListened(acc)
	}
}

// periodicStatsz sends the STATSZ broadcast when someone listens, and
// returns when to look again.
func (st *sysState) periodicStatsz() time.Duration {
	subj := "$SYS.SERVER." + st.srv.id + ".STATSZ"
	if st.listened(subj) {
		st.sendStatsz(st.acc, subj)
	}
	t := &st.stats
	if t.every == 0 {
		t.every = statszFirst
	}
	t.every = min(2*t.every, statszMax)
	return t.every
}

// listened reports whether anything but the system's own handlers
// subscribes to subject in the system account: a client, a leaf link
// bound to it, or a stream import of it. It is safe from any goroutine.
func (st *sysState) listened(subject string) bool {
	r := st.acc.sl.Match([]byte(subject))
	for _, sub := range r.Plain {
		// A client, a leaf link, or an internal subscriber such as a
		// stream import of the events; not the services themselves.
		if !sub.sysReq {
			return true
		}
	}
	return len(r.Groups) > 0
}

// lameDuckEvent publishes $SYS.SERVER.<id>.LAMEDUCK: the server's
// identity, as the shutdown event.
func (s *Server) lameDuckEvent() {
	if st := s.sys; st != nil {
		st.send(st.acc, "$SYS.SERVER."+s.id+".LAMEDUCK", st.info())
	}
}

// shutdownEvent publishes $SYS.SERVER.<id>.SHUTDOWN and waits a little
// for a loop to deliver it, before the loops stop.
func (s *Server) shutdownEvent() {
	st := s.sys
	if st == nil {
		return
	}
	st.send(st.acc, "$SYS.SERVER."+s.id+".SHUTDOWN", st.info())
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		s.internal.mu.Lock()
		idle := len(s.internal.q) == 0 && !s.internal.scheduled && !s.internal.busy
		s.internal.mu.Unlock()
		// Delivered means also handed over by the loops that took it
		// for their receivers.
		for _, w := range s.workers {
			idle = idle && w.backlog.Load() == 0
		}
		if idle {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sendConnsListened announces acc's connection count on the subjects
// someone listens to, the old and the new.
func (st *sysState) sendConnsListened(acc string) {
	var subjects []string
	for _, subj := range []string{"$SYS.SERVER.ACCOUNT." + acc + ".CONNS", "$SYS.ACCOUNT." + acc + ".SERVER.CONNS"} {
		if st.listened(subj) {
			subjects = append(subjects, subj)
		}
	}
	if len(subjects) > 0 {
		st.sendConns(st.acc, acc, subjects...)
	}
}
