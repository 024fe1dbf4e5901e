package loop

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"sort"
	"time"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/sublist"
)

// The snapshot API below is what monitoring reads. Each call gathers its
// figures where they may be read safely: atomics and sublists from the
// calling goroutine, a connection's own fields on its event loop (one task
// per loop, see onLoops). Nothing here runs on the message path, and the
// message path gained no work for it: the counters it reads already
// existed.

// ServerStats are the server-wide figures of nats-server's /varz.
type ServerStats struct {
	ID, Name       string
	Start          time.Time
	ConfigLoadTime time.Time
	// Opts are the options in force. They are shared and must not be
	// modified.
	Opts          *conf.Options
	AuthRequired  bool
	SystemAccount string
	// Port and LeafPort are the bound ports (0: no leafnode listener).
	Port, LeafPort int
	// WebsocketPort is the websocket listener's bound port (0: none).
	WebsocketPort int

	Connections      int    // client connections open, leaf links not counted
	TotalConnections uint64 // client connections ever accepted
	Leafs            int    // established leaf links

	// In and out messages and payload bytes of every connection kind since
	// start; the Client figures leave out leaf links.
	InMsgs, InBytes, OutMsgs, OutBytes int64

	InClientMsgs, InClientBytes, OutClientMsgs, OutClientBytes int64

	// SlowConsumers counts every connection closed as a slow consumer;
	// the by-kind figures come from the closed connections' reasons.
	SlowConsumers            int64
	SlowClients, SlowLeafs   uint64
	StaleClients, StaleLeafs uint64
	Subscriptions            uint32
	LameDuck                 bool
}

// ConnInfo describes one connection as /connz shows it. It is a copy: the
// caller may keep and modify it.
type ConnInfo struct {
	CID          uint64
	Kind         string // "Client" or "Leafnode"
	Type         string // "nats" for clients, "" for leaf links
	IP           string
	Port         int
	Start        time.Time
	LastActivity time.Time
	Stop         time.Time // zero while open
	Reason       string    // why it closed
	RTT          time.Duration
	Pending      int // bytes waiting to be written
	InMsgs       int64
	OutMsgs      int64
	InBytes      int64
	OutBytes     int64
	NumSubs      int
	Name         string
	Lang         string
	Version      string
	User         string // the authorized user
	Account      string
	// TLS, for connections that run it: the version ("1.3"), the
	// cipher suite's name and the peer's certificates (leaf first).
	TLSVersion   string
	TLSCipher    string
	TLSFirst     bool
	TLSPeerCerts []*x509.Certificate
	// Subs is set when asked for, and always for closed connections.
	Subs []SubInfo
	// SubsOmitted is how many of a closed connection's subscriptions its
	// record does not keep, to bound the records' memory (see
	// maxClosedSubBytes).
	SubsOmitted int
	Leaf        *LeafInfo // leaf links only
}

// LeafInfo is what a leaf link adds to ConnInfo (nats-server's /leafz).
type LeafInfo struct {
	Name     string // the peer's server name
	Spoke    bool   // this server is the leaf on the link
	Isolated bool
	// Compression is the link's negotiated compression (leafcompress.go).
	Compression string
}

// SubInfo is one subscription (nats-server's SubDetail).
type SubInfo struct {
	Account string
	Subject string
	Queue   string
	SID     string
	Msgs    int64 // messages delivered, counted only while a max is set
	Max     int64
	CID     uint64
}

// ConnsOptions select what Conns returns.
type ConnsOptions struct {
	Open, Closed bool
	Subs         bool // fill ConnInfo.Subs for open connections
}

// AccountStats are one account's figures (nats-server's /accountz detail).
type AccountStats struct {
	Name       string
	NameTag    string // the account JWT's name in operator mode, else Name
	System     bool
	Clients    int
	Leafs      int
	NumSubs    uint32
	Sublist    sublist.Stats
	Exports    []*auth.Export
	Imports    []*auth.Import
	LastUpdate time.Time
	Expires    time.Time
	MaxConns   int
	MaxLeafs   int
	MaxSubs    int
	MaxPayload int32
	// Traffic are the account's message figures (accstats.go).
	Traffic AccountTraffic
}

// Stats returns the server-wide figures. It reads atomics and sublists
// only, so it never waits for the event loops.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	st := ServerStats{
		ID:            s.id,
		Name:          s.name,
		Start:         s.start,
		Opts:          s.opts,
		AuthRequired:  s.auth.Required(),
		SystemAccount: s.auth.SystemAccount(),
	}
	accs := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accs = append(accs, a)
	}
	if a, ok := s.bound[s.clientAddr].(*net.TCPAddr); ok && a != nil {
		st.Port = a.Port
	}
	if s.leafAddr != "" {
		if a, ok := s.bound[s.leafAddr].(*net.TCPAddr); ok && a != nil {
			st.LeafPort = a.Port
		}
	}
	if s.wsAddr != "" {
		if a, ok := s.bound[s.wsAddr].(*net.TCPAddr); ok && a != nil {
			st.WebsocketPort = a.Port
		}
	}
	s.mu.Unlock()

	s.ops.mu.Lock()
	st.ConfigLoadTime = s.ops.configTime
	st.SlowClients, st.SlowLeafs = s.ops.slowClients, s.ops.slowLeafs
	st.StaleClients, st.StaleLeafs = s.ops.staleClients, s.ops.staleLeafs
	s.ops.mu.Unlock()
	if st.ConfigLoadTime.IsZero() {
		st.ConfigLoadTime = st.Start
	}
	st.LameDuck = s.ops.ldm.Load()
	st.Connections = int(s.nclients.Load())
	// A leaf connection is counted in total before leafsOpened: read them
	// the other way round so the difference cannot go below zero.
	leafs := s.ops.leafsOpened.Load()
	st.TotalConnections = s.total.Load() - leafs
	for _, w := range s.workers {
		st.InMsgs += w.stats.inMsgs.Load()
		st.InBytes += w.stats.inBytes.Load()
		st.OutMsgs += w.stats.outMsgs.Load()
		st.OutBytes += w.stats.outBytes.Load()
		st.SlowConsumers += w.stats.slowConsumers.Load()
	}
	// The loops count all kinds together; the leaf links' own counters,
	// atomics, say how much of it crossed a link.
	var lin, linB, lout, loutB int64
	for _, a := range accs {
		a.mu.Lock()
		st.Leafs += len(a.leafs)
		for _, c := range a.leafs {
			lin += c.inMsgs.Load()
			linB += c.inBytes.Load()
			lout += c.outMsgs.Load()
			loutB += c.outBytes.Load()
		}
		a.mu.Unlock()
		st.Subscriptions += uint32(a.sl.Count())
	}
	st.InClientMsgs = max(0, st.InMsgs-lin)
	st.InClientBytes = max(0, st.InBytes-linB)
	st.OutClientMsgs = max(0, st.OutMsgs-lout)
	st.OutClientBytes = max(0, st.OutBytes-loutB)
	return st
}

// Conns returns the open connections (clients and established leaf links,
// read on their loops) and the recently closed ones, unsorted.
func (s *Server) Conns(o ConnsOptions) ([]ConnInfo, error) {
	var out []ConnInfo
	if o.Open {
		per, err := onLoops(s.knownWorkers(), func(w *worker) []ConnInfo {
			var cs []ConnInfo
			w.now = time.Now().UnixNano()
			for _, c := range w.clients {
				if c.closed.Load() || (c.kind == kindLeaf && !c.leaf.established) {
					continue
				}
				if c.kind != kindClient && c.kind != kindLeaf {
					continue
				}
				c.rttProbe(w.now)
				cs = append(cs, *c.connInfo(o.Subs))
			}
			w.flush()
			return cs
		})
		if err != nil {
			return nil, err
		}
		for _, cs := range per {
			out = append(out, cs...)
		}
	}
	if o.Closed {
		s.ops.mu.Lock()
		closed := s.ops.closed.list()
		s.ops.mu.Unlock()
		for _, ci := range closed {
			c := *ci
			c.Subs = append([]SubInfo(nil), ci.Subs...)
			if ci.Leaf != nil {
				l := *ci.Leaf
				c.Leaf = &l
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// connInfo describes c. It runs on c's loop.
func (c *client) connInfo(subs bool) *ConnInfo {
	ci := &ConnInfo{
		CID:      c.cid,
		Kind:     "Client",
		Type:     "nats",
		IP:       c.ip(),
		Start:    c.start,
		InMsgs:   c.inMsgs.Load(),
		OutMsgs:  c.outMsgs.Load(),
		InBytes:  c.inBytes.Load(),
		OutBytes: c.outBytes.Load(),
		NumSubs:  c.subs.len(),
		Pending:  len(c.out),
	}
	if a, ok := c.raddr.(*net.TCPAddr); ok {
		ci.Port = a.Port
	}
	// As nats-server: microseconds below a millisecond, else nanoseconds.
	ci.RTT = time.Duration(c.rttOf())
	if ci.RTT > time.Microsecond && ci.RTT < time.Millisecond {
		ci.RTT = ci.RTT.Truncate(time.Microsecond)
	}
	ci.LastActivity = c.start
	if c.lastIn > c.start.UnixNano() {
		ci.LastActivity = time.Unix(0, c.lastIn)
	}
	if !c.closed.Load() && c.conn != nil {
		ci.Pending += c.conn.OutboundBuffered()
	}
	if m := c.meta; m != nil {
		ci.Name, ci.Lang, ci.Version, ci.User = m.name, m.lang, m.version, m.user
	}
	if c.acc != nil {
		ci.Account = c.acc.name
	}
	if t, ok := c.tr.(*tlsTransport); ok && t.phase == tlsLive {
		ci.TLSVersion = tlsVersionName(t.version)
		ci.TLSCipher = tls.CipherSuiteName(t.cipher)
		ci.TLSPeerCerts = t.peer
		ci.TLSFirst = t.first
	}
	if c.ws != nil {
		// As nats-server's clientTypeString.
		ci.Type = "websocket"
	}
	if c.kind == kindLeaf {
		ci.Kind, ci.Type, ci.Lang = "Leafnode", "", ""
		l := c.leaf
		ci.Leaf = &LeafInfo{Name: l.name, Spoke: l.spoke, Isolated: l.isolated, Compression: l.Compression()}
		ci.Name = l.name
	}
	if subs && c.subs.len() > 0 {
		ci.Subs = make([]SubInfo, 0, c.subs.len())
		for sub := range c.subs.all() {
			ci.Subs = append(ci.Subs, sub.info(ci.Account))
		}
		// Map order is random; a stable order reads better and tests well.
		sort.Slice(ci.Subs, func(i, j int) bool { return ci.Subs[i].SID < ci.Subs[j].SID })
	}
	return ci
}

// info describes a subscription. Its fields are immutable or atomic, so it
// may run on any goroutine.
func (sub *subscription) info(account string) SubInfo {
	return SubInfo{
		Account: account,
		Subject: sub.subject,
		Queue:   sub.queue,
		SID:     sub.sid,
		Msgs:    sub.seen.Load(),
		Max:     sub.max.Load(),
		CID:     sub.c.cid,
	}
}

// Subscriptions lists the subscriptions of clients and the server's own
// (imports, system services), not the interest leaf links announced, as
// nats-server's /subsz, in every account or in one,
// with the accounts' sublist statistics added up. Sublists are safe for
// concurrent use, so no loop is involved.
func (s *Server) Subscriptions(account string, list bool) ([]SubInfo, []sublist.Stats) {
	var subs []SubInfo
	var stats []sublist.Stats
	for _, a := range s.accountList() {
		if account != "" && a.name != account {
			continue
		}
		stats = append(stats, a.sl.Stats())
		if !list {
			continue
		}
		a.sl.Range(func(_, _ string, sub *subscription) bool {
			if sub.c != nil && (sub.c.kind == kindClient || sub.c.kind == kindInternal) {
				subs = append(subs, sub.info(a.name))
			}
			return true
		})
	}
	return subs, stats
}

// accountList is a snapshot of the registered accounts.
func (s *Server) accountList() []*account {
	s.mu.Lock()
	defer s.mu.Unlock()
	accs := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		accs = append(accs, a)
	}
	sort.Slice(accs, func(i, j int) bool { return accs[i].name < accs[j].name })
	return accs
}

// AccountNames lists the registered accounts, sorted.
func (s *Server) AccountNames() []string {
	accs := s.accountList()
	names := make([]string, len(accs))
	for i, a := range accs {
		names[i] = a.name
	}
	return names
}

// Account returns one account's figures; ok is false when it does not
// exist.
func (s *Server) Account(name string) (AccountStats, bool) {
	a := s.lookupAccount(name)
	if a == nil {
		return AccountStats{}, false
	}
	s.mu.Lock()
	info := a.info
	s.mu.Unlock()
	s.ops.mu.Lock()
	updated := s.ops.configTime
	s.ops.mu.Unlock()
	if updated.IsZero() {
		updated = s.start
	}
	leafs := a.countLeafs()
	st := AccountStats{
		Name:       a.name,
		NameTag:    a.name,
		Leafs:      leafs,
		Clients:    max(0, int(a.nconns.Load())-leafs),
		NumSubs:    uint32(a.sl.Count()),
		Sublist:    a.sl.Stats(),
		LastUpdate: updated,
		Traffic:    a.traffic(),
	}
	if info != nil {
		st.System = info.System
		if info.NameTag != "" {
			st.NameTag = info.NameTag
		}
		st.Exports, st.Imports = info.Exports, info.Imports
		st.Expires = info.Expires
		st.MaxConns, st.MaxLeafs, st.MaxSubs, st.MaxPayload =
			info.MaxConnections, info.MaxLeafNodes, info.MaxSubs, info.MaxPayload
	}
	return st, true
}

// payloadLen is what a delivery adds to the receiver's out_bytes: the
// message as delivered (headers included when the receiver takes them),
// without protocol framing, as nats-server counts it. It is worked out
// where the message is framed and counted by the receiver's own loop.
func payloadLen(hdr int, msg []byte, headers bool) int64 {
	if hdr > 0 && !headers {
		return int64(len(msg) - hdr)
	}
	return int64(len(msg))
}

// rttOf is c's round trip in nanoseconds: measured, or estimated at
// CONNECT (stored negative), or 0 when unknown.
func (c *client) rttOf() int64 {
	if c.rtt < 0 {
		return -c.rtt
	}
	return c.rtt
}

// gotPong ends a round-trip measurement when a PONG answers the PING that
// started it. It runs on c's loop, once per PONG.
func (c *client) gotPong() {
	if c.rttStart != 0 {
		c.rtt = max(c.w.now-c.rttStart, 1)
		c.rttStart = 0
		c.s2Level()
	}
}

// rttProbe sends a PING to measure the round trip of a connection that has
// none yet, as nats-server does when /connz asks for an rtt it does not
// know: for clients that named their language (real client libraries)
// and for leaf links. The answer shows in the next request. It runs on c's
// loop; the caller flushes.
func (c *client) rttProbe(now int64) {
	if c.rtt > 0 || c.rttStart != 0 || !c.connected || c.closed.Load() {
		return
	}
	// A client must have had the PONG to its CONNECT's PING first:
	// nats.go takes anything else as a failed handshake.
	if c.kind == kindClient && (c.meta == nil || c.meta.lang == "" || !c.infoSent) {
		return
	}
	if c.kind == kindLeaf && !c.leaf.established {
		return
	}
	c.pingsOut++
	c.rttStart = now
	if c.srv.tracing.Load() {
		c.traceOut([]byte("PING"))
	}
	c.out = append(c.out, "PING\r\n"...)
	c.w.markDirty(c)
}
