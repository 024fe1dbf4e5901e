// Package monitor is Canopy's HTTP monitoring server: nats-server's
// /varz, /connz, /leafz, /subsz, /accountz, /routez, /healthz and /stacksz
// endpoints with the same JSON, so the tools built for nats-server read
// Canopy unchanged (PROTOCOL.md section 5.3).
//
// # Threading
//
// The monitor runs on net/http's goroutines, never on the event loops. It
// reads the server through loop.Server's snapshot methods, which read
// atomics and sublists directly and ask each event loop for the state it
// owns (one task per loop per request); the message path does no work for
// it. A Monitor's methods are safe for concurrent use.
package monitor

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/loop"
	"github.com/canopy-nats/canopy/sublist"
)

// The endpoints, as nats-server names them.
const (
	RootPath     = "/"
	VarzPath     = "/varz"
	ConnzPath    = "/connz"
	LeafzPath    = "/leafz"
	SubszPath    = "/subsz"
	AccountzPath = "/accountz"
	RoutezPath   = "/routez"
	HealthzPath  = "/healthz"
	StackszPath  = "/stacksz"
)

// Page sizes nats-server uses when the request names none.
const (
	DefaultConnListSize = 1024
	DefaultSubListSize  = 1024
)

// Logger is where the monitor reports; *logger.Logger and loop.Logger
// satisfy it.
type Logger interface {
	Noticef(format string, v ...any)
	Errorf(format string, v ...any)
}

// Monitor is the HTTP monitoring server of one Canopy server.
type Monitor struct {
	srv *loop.Server
	log Logger
	mux *http.ServeMux

	mu       sync.Mutex // guards what follows
	reqStats map[string]uint64
	hs       *http.Server
	ln       net.Listener
	done     chan struct{}
	cpu      cpuSampler
	digest   digestCache
}

// New builds the monitor of srv. It listens on nothing until Start.
func New(srv *loop.Server, lg Logger) *Monitor {
	m := &Monitor{srv: srv, log: lg, reqStats: make(map[string]uint64)}
	m.cpu.init()
	mux := http.NewServeMux()
	mux.HandleFunc(RootPath, m.handleRoot)
	mux.HandleFunc(VarzPath, m.handleVarz)
	mux.HandleFunc(ConnzPath, m.handleConnz)
	mux.HandleFunc(LeafzPath, m.handleLeafz)
	mux.HandleFunc(SubszPath, m.handleSubsz)
	mux.HandleFunc("/subscriptionsz", m.handleSubsz)
	mux.HandleFunc(AccountzPath, m.handleAccountz)
	mux.HandleFunc(RoutezPath, m.handleRoutez)
	mux.HandleFunc(HealthzPath, m.handleHealthz)
	mux.HandleFunc(StackszPath, m.handleStacksz)
	mux.HandleFunc(AccStatzPath, m.handleAccStatz)
	mux.HandleFunc(JszPath, m.handleJsz)
	mux.HandleFunc(GatewayzPath, m.handleGatewayz)
	mux.HandleFunc(IPQueuesPath, m.handleIPQueuesz)
	mux.HandleFunc(RaftzPath, m.handleRaftz)
	mux.Handle(ExpvarzPath, expvar.Handler())
	m.mux = mux
	srv.SetReporter(m)
	return m
}

// Handler serves the endpoints; tests and embedders may mount it anywhere.
func (m *Monitor) Handler() http.Handler { return m.mux }

// Start listens on host:port (port -1 or 0: a random port) and serves in
// the background. It logs the address as nats-server does.
func (m *Monitor) Start(host string, port int) error {
	return m.start(host, port, nil)
}

// StartTLS is Start over HTTPS (nats-server's https_port), with cfg as
// the server's TLS configuration, normally the top-level tls block's
// conf.TLS.ServerConfig. A client certificate is asked for only if cfg
// does (verify), as in nats-server, whose monitor uses the client
// listener's tls.Config.
func (m *Monitor) StartTLS(host string, port int, cfg *tls.Config) error {
	if cfg == nil {
		return errors.New("TLS cert and key required for HTTPS")
	}
	return m.start(host, port, cfg)
}

func (m *Monitor) start(host string, port int, cfg *tls.Config) error {
	if port < 0 {
		port = 0
	}
	hp := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", hp)
	if err != nil {
		return fmt.Errorf("can't listen to the monitor port: %w", err)
	}
	rport := ln.Addr().(*net.TCPAddr).Port
	scheme := "http"
	if cfg != nil {
		scheme = "https"
	}
	m.log.Noticef("Starting %s monitor on %s", scheme, net.JoinHostPort(host, strconv.Itoa(rport)))
	hs := &http.Server{
		Handler:           m.mux,
		MaxHeaderBytes:    1 << 20,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(logWriter{m.log}, "", 0),
	}
	if cfg != nil {
		// The listener wraps each connection itself: the http.Server's
		// own TLS setup would want certificate files, and a clone keeps
		// the caller's config free of what net/http might add to it.
		hs.TLSConfig = cfg.Clone()
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	done := make(chan struct{})
	m.mu.Lock()
	m.hs, m.ln, m.done = hs, ln, done
	m.mu.Unlock()
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Errorf("Error starting monitor on %q: %v", hp, err)
		}
	}()
	return nil
}

// Addr is the address the monitor listens on, or nil before Start.
func (m *Monitor) Addr() net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ln == nil {
		return nil
	}
	return m.ln.Addr()
}

// Shutdown stops listening and waits for requests in flight, or for ctx.
func (m *Monitor) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	hs, done := m.hs, m.done
	m.mu.Unlock()
	if hs == nil {
		return nil
	}
	err := hs.Shutdown(ctx)
	select {
	case <-done:
	case <-ctx.Done():
	}
	return err
}

// logWriter sends net/http's own complaints to the server log.
type logWriter struct{ l Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Errorf("monitoring: %s", strings.TrimPrefix(strings.TrimSpace(string(p)), "http: "))
	return len(p), nil
}

// count records a request for /varz's http_req_stats.
func (m *Monitor) count(path string) {
	m.mu.Lock()
	m.reqStats[path]++
	m.mu.Unlock()
}

// respond writes an indented JSON document as nats-server does.
func respond(w http.ResponseWriter, code int, v any, indent bool) {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// badRequest answers 400 with a plain text reason, as nats-server does.
func badRequest(w http.ResponseWriter, msg string) {
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(msg))
}

func decodeBool(w http.ResponseWriter, r *http.Request, param string) (bool, bool) {
	str := r.URL.Query().Get(param)
	if str == "" {
		return false, true
	}
	v, err := strconv.ParseBool(str)
	if err != nil {
		badRequest(w, fmt.Sprintf("Error decoding boolean for '%s': %v", param, err))
		return false, false
	}
	return v, true
}

func decodeInt(w http.ResponseWriter, r *http.Request, param string) (int, bool) {
	str := r.URL.Query().Get(param)
	if str == "" {
		return 0, true
	}
	v, err := strconv.Atoi(str)
	if err != nil {
		badRequest(w, fmt.Sprintf("Error decoding int for '%s': %v", param, err))
		return 0, false
	}
	return v, true
}

func decodeUint64(w http.ResponseWriter, r *http.Request, param string) (uint64, bool) {
	str := r.URL.Query().Get(param)
	if str == "" {
		return 0, true
	}
	v, err := strconv.ParseUint(str, 10, 64)
	if err != nil {
		badRequest(w, fmt.Sprintf("Error decoding uint64 for '%s': %v", param, err))
		return 0, false
	}
	return v, true
}

// uptime formats a duration as nats-server does: whole seconds, with days
// and years ("1y2d3h4m5s").
func uptime(d time.Duration) string {
	secs := int64(d / time.Second)
	mins, hrs := secs/60, secs/3600
	days := hrs / 24
	yrs := days / 365
	switch {
	case yrs > 0:
		return fmt.Sprintf("%dy%dd%dh%dm%ds", yrs, days%365, hrs%24, mins%60, secs%60)
	case days > 0:
		return fmt.Sprintf("%dd%dh%dm%ds", days, hrs%24, mins%60, secs%60)
	case hrs > 0:
		return fmt.Sprintf("%dh%dm%ds", hrs, mins%60, secs%60)
	case mins > 0:
		return fmt.Sprintf("%dm%ds", mins, secs%60)
	}
	return fmt.Sprintf("%ds", secs)
}

func (m *Monitor) handleRoot(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != RootPath {
		http.NotFound(w, r)
		return
	}
	m.count(RootPath)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<html lang="en">
<head><title>Canopy monitoring</title></head>
<body>
<h1>Canopy v%s</h1>
<p>NATS protocol of nats-server v%s</p>
`, loop.Version, loop.CompatVersion)
	for _, e := range []struct{ name, path string }{
		{"General", VarzPath}, {"Connections", ConnzPath}, {"Accounts", AccountzPath},
		{"Subscriptions", SubszPath}, {"Routes", RoutezPath}, {"LeafNodes", LeafzPath},
		{"Health Probe", HealthzPath}, {"Stacks", StackszPath},
	} {
		fmt.Fprintf(w, "<a href=.%s>%s</a> <code>%s</code><br/>\n", e.path, e.name, e.path)
	}
	fmt.Fprint(w, "</body>\n</html>\n")
}

func (m *Monitor) handleVarz(w http.ResponseWriter, _ *http.Request) {
	m.count(VarzPath)
	respond(w, http.StatusOK, m.Varz(), true)
}

// Varz builds the /varz document.
func (m *Monitor) Varz() *Varz {
	st := m.srv.Stats()
	o := st.Opts
	now := time.Now()
	cpu, mem := m.cpu.sample(now)
	v := &Varz{
		ID:               st.ID,
		Name:             st.Name,
		Version:          loop.CompatVersion,
		ServerSoftware:   ServerSoftware,
		CanopyVersion:    loop.Version,
		Proto:            1,
		GoVersion:        runtime.Version(),
		Host:             o.Host,
		Port:             st.Port,
		AuthRequired:     st.AuthRequired,
		MaxConn:          o.MaxConn,
		MaxSubs:          o.MaxSubs,
		PingInterval:     o.PingInterval,
		MaxPingsOut:      o.MaxPingsOut,
		HTTPHost:         o.HTTPHost,
		HTTPPort:         o.HTTPPort,
		AuthTimeout:      o.Authorization.Timeout.Seconds(),
		MaxControlLine:   o.MaxControlLine,
		MaxPayload:       int(o.MaxPayload),
		MaxPending:       o.MaxPending,
		TLSTimeout:       o.TLS.HandshakeTimeout().Seconds(),
		HTTPSPort:        o.HTTPSPort,
		WriteDeadline:    o.WriteDeadline,
		Start:            st.Start.UTC(),
		Now:              now.UTC(),
		Uptime:           uptime(now.Sub(st.Start)),
		Mem:              mem,
		Cores:            runtime.NumCPU(),
		MaxProcs:         runtime.GOMAXPROCS(0),
		CPU:              cpu,
		Connections:      st.Connections,
		TotalConnections: st.TotalConnections,
		Leafs:            st.Leafs,
		InMsgs:           st.InMsgs,
		InBytes:          st.InBytes,
		InClientMsgs:     st.InClientMsgs,
		InClientBytes:    st.InClientBytes,
		OutMsgs:          st.OutMsgs,
		OutBytes:         st.OutBytes,
		OutClientMsgs:    st.OutClientMsgs,
		OutClientBytes:   st.OutClientBytes,
		SlowConsumers:    st.SlowConsumers,
		StaleConnections: int64(st.StaleClients + st.StaleLeafs),
		Subscriptions:    st.Subscriptions,
		ConfigLoadTime:   st.ConfigLoadTime.UTC(),
		SystemAccount:    st.SystemAccount,
		FeatureFlags:     loop.FeatureFlags(),
		ConfigDigest:     m.configDigest(o.ConfigFile, st.ConfigLoadTime),
		SlowConsumersStats: &KindStats{
			Clients: st.SlowClients, Leafs: st.SlowLeafs,
		},
		StaleConnectionStats: &KindStats{Clients: st.StaleClients, Leafs: st.StaleLeafs},
		DiskIOWaitStats:      &DiskIOWaitStats{},
	}
	if o.MaxConn < 0 {
		v.MaxConn = 0
	}
	if ml := debug.SetMemoryLimit(-1); ml < 1<<63-1 {
		v.MemLimit = ml
	}
	if ln := &o.LeafNode; ln.Port != 0 {
		v.LeafNode.Host = ln.Host
		v.LeafNode.Port = st.LeafPort
		v.LeafNode.AuthTimeout = ln.AuthTimeout.Seconds()
		v.LeafNode.TLSTimeout = ln.TLS.HandshakeTimeout().Seconds()
		v.LeafNode.TLSRequired = ln.TLS != nil
		v.LeafNode.TLSVerify = ln.TLS.VerifiesClients()
	}
	if ws := &o.Websocket; ws.Port != 0 {
		v.Websocket = WebsocketOptsVarz{
			Host: ws.Host, Port: st.WebsocketPort, Advertise: ws.Advertise, NoAuthUser: ws.NoAuthUser,
			JWTCookie: ws.JWTCookie, HandshakeTimeout: ws.HandshakeTimeout, AuthTimeout: ws.AuthTimeout.Seconds(),
			NoTLS: ws.NoTLS, SameOrigin: ws.SameOrigin, AllowedOrigins: ws.AllowedOrigins, Compression: ws.Compression,
		}
	}
	if o.TLS != nil {
		v.TLSRequired = !o.AllowNonTLS
		v.TLSVerify = o.TLS.VerifiesClients()
	}
	v.LeafNode.Remotes = remotesVarz(o.LeafNode.Remotes)
	m.mu.Lock()
	v.HTTPReqStats = make(map[string]uint64, len(m.reqStats))
	for k, n := range m.reqStats {
		v.HTTPReqStats[k] = n
	}
	m.mu.Unlock()
	return v
}

func remotesVarz(rs []*conf.Remote) []RemoteLeafOptsVarz {
	if len(rs) == 0 {
		return nil
	}
	out := make([]RemoteLeafOptsVarz, len(rs))
	for i, r := range rs {
		urls := make([]string, len(r.URLs))
		for j, u := range r.URLs {
			urls[j] = u.Host
		}
		out[i] = RemoteLeafOptsVarz{LocalAccount: r.LocalAccount, URLs: urls}
		if len(r.DenyImports) > 0 || len(r.DenyExports) > 0 {
			out[i].Deny = &DenyRules{Imports: r.DenyImports, Exports: r.DenyExports}
		}
	}
	return out
}

// connState is /connz's state filter.
type connState int

const (
	connOpen connState = iota
	connClosed
	connAll
)

// sortOpts are /connz's sort keys; only cid and start sort ascending.
var sortOpts = map[string]bool{
	"": true, "cid": true, "start": true, "subs": true, "pending": true, "msgs_to": true,
	"msgs_from": true, "bytes_to": true, "bytes_from": true, "last": true, "idle": true,
	"uptime": true, "stop": true, "reason": true, "rtt": true,
}

// ConnzOptions are /connz's query parameters.
type ConnzOptions struct {
	Sort       string
	Auth       bool
	Subs       bool
	SubsDetail bool
	Offset     int
	Limit      int
	CID        uint64
	State      connState
	User       string
	Account    string
}

func (m *Monitor) handleConnz(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := ConnzOptions{Sort: q.Get("sort"), User: q.Get("user"), Account: q.Get("acc")}
	var ok bool
	if o.Auth, ok = decodeBool(w, r, "auth"); !ok {
		return
	}
	if strings.EqualFold(q.Get("subs"), "detail") {
		o.SubsDetail = true
	} else if o.Subs, ok = decodeBool(w, r, "subs"); !ok {
		return
	}
	if o.Offset, ok = decodeInt(w, r, "offset"); !ok {
		return
	}
	if o.Limit, ok = decodeInt(w, r, "limit"); !ok {
		return
	}
	if o.CID, ok = decodeUint64(w, r, "cid"); !ok {
		return
	}
	switch strings.ToLower(q.Get("state")) {
	case "", "open":
		o.State = connOpen
	case "closed":
		o.State = connClosed
	case "any", "all":
		o.State = connAll
	default:
		badRequest(w, fmt.Sprintf("Error decoding state for %s", q.Get("state")))
		return
	}
	m.count(ConnzPath)
	c, err := m.Connz(&o)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	respond(w, http.StatusOK, c, true)
}

// Connz builds the /connz document.
func (m *Monitor) Connz(o *ConnzOptions) (*Connz, error) {
	if !sortOpts[o.Sort] {
		return nil, fmt.Errorf("invalid sorting option: %s", o.Sort)
	}
	if o.Sort == "stop" && o.State != connClosed {
		return nil, errors.New("sort by stop only valid on closed connections")
	}
	if o.Sort == "reason" && o.State != connClosed {
		return nil, errors.New("sort by reason only valid on closed connections")
	}
	offset, limit := max(o.Offset, 0), o.Limit
	if limit <= 0 {
		limit = DefaultConnListSize
	}
	if o.CID > 0 {
		limit = 1
	}
	st := m.srv.Stats()
	now := time.Now()
	cz := &Connz{ID: st.ID, Now: now.UTC(), Offset: offset, Limit: limit}
	infos, err := m.srv.Conns(loop.ConnsOptions{
		Open:   o.State != connClosed,
		Closed: o.State != connOpen,
		Subs:   o.Subs || o.SubsDetail,
	})
	if err != nil {
		return nil, err
	}
	list := make([]*ConnInfo, 0, len(infos))
	for i := range infos {
		ci := &infos[i]
		if o.Account != "" && ci.Account != o.Account {
			continue
		}
		if o.User != "" && ci.User != o.User {
			continue
		}
		if o.CID > 0 && ci.CID != o.CID {
			continue
		}
		list = append(list, m.connInfo(ci, now, o))
	}
	if o.CID > 0 && len(list) > 1 {
		// An open connection wins over a closed record of the same id.
		list = list[:1]
	}
	sortConns(list, o.Sort, now)
	cz.Total = len(list)
	lo := min(offset, len(list))
	hi := lo + min(limit, len(list)-lo)
	cz.Conns = list[lo:hi]
	cz.NumConns = len(cz.Conns)
	return cz, nil
}

// connInfo converts a loop.ConnInfo into /connz's form.
func (m *Monitor) connInfo(ci *loop.ConnInfo, now time.Time, o *ConnzOptions) *ConnInfo {
	end := now
	out := &ConnInfo{
		Cid:          ci.CID,
		Kind:         ci.Kind,
		Type:         ci.Type,
		IP:           ci.IP,
		Port:         ci.Port,
		Start:        ci.Start.UTC(),
		LastActivity: ci.LastActivity.UTC(),
		Reason:       ci.Reason,
		RTT:          ci.RTT.String(),
		Pending:      ci.Pending,
		InMsgs:       ci.InMsgs,
		OutMsgs:      ci.OutMsgs,
		InBytes:      ci.InBytes,
		OutBytes:     ci.OutBytes,
		NumSubs:      uint32(ci.NumSubs),
		Name:         ci.Name,
		Lang:         ci.Lang,
		Version:      ci.Version,
		TLSVersion:   ci.TLSVersion,
		TLSCipher:    ci.TLSCipher,
		TLSFirst:     ci.TLSFirst,
		rtt:          ci.RTT,
	}
	if !ci.Stop.IsZero() {
		stop := ci.Stop.UTC()
		out.Stop = &stop
		end = ci.Stop
		out.Pending = 0
	}
	out.Uptime = uptime(end.Sub(ci.Start))
	out.Idle = uptime(end.Sub(ci.LastActivity))
	switch {
	case o.SubsDetail:
		for _, s := range ci.Subs {
			out.SubsDetail = append(out.SubsDetail, SubDetail{
				Subject: s.Subject, Queue: s.Queue, Sid: s.SID, Msgs: s.Msgs, Max: s.Max, Cid: s.CID,
			})
		}
	case o.Subs:
		for _, s := range ci.Subs {
			out.Subs = append(out.Subs, s.Subject)
		}
	}
	if o.Auth {
		out.AuthorizedUser = ci.User
		if ci.Account != conf.GlobalAccount {
			out.Account = ci.Account
		}
		out.NameTag = ci.Account
		for _, c := range ci.TLSPeerCerts {
			spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
			raw := sha256.Sum256(c.Raw)
			out.TLSPeerCerts = append(out.TLSPeerCerts, &TLSPeerCert{
				Subject: c.Subject.String(), SubjectPKISha256: hex.EncodeToString(spki[:]), CertSha256: hex.EncodeToString(raw[:]),
			})
		}
	}
	return out
}

// sortConns orders connections as nats-server does: by cid ascending, or
// by the chosen figure descending (uptime ascending). Ties keep cid order.
func sortConns(l []*ConnInfo, by string, now time.Time) {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Cid < l[j].Cid })
	upOf := func(c *ConnInfo) time.Duration {
		if c.Stop != nil {
			return c.Stop.Sub(c.Start)
		}
		return now.Sub(c.Start)
	}
	var less func(a, b *ConnInfo) bool
	switch by {
	case "subs":
		less = func(a, b *ConnInfo) bool { return a.NumSubs > b.NumSubs }
	case "pending":
		less = func(a, b *ConnInfo) bool { return a.Pending > b.Pending }
	case "msgs_to":
		less = func(a, b *ConnInfo) bool { return a.OutMsgs > b.OutMsgs }
	case "msgs_from":
		less = func(a, b *ConnInfo) bool { return a.InMsgs > b.InMsgs }
	case "bytes_to":
		less = func(a, b *ConnInfo) bool { return a.OutBytes > b.OutBytes }
	case "bytes_from":
		less = func(a, b *ConnInfo) bool { return a.InBytes > b.InBytes }
	case "last":
		less = func(a, b *ConnInfo) bool { return a.LastActivity.After(b.LastActivity) }
	case "idle":
		less = func(a, b *ConnInfo) bool { return now.Sub(a.LastActivity) > now.Sub(b.LastActivity) }
	case "uptime":
		less = func(a, b *ConnInfo) bool { return upOf(a) < upOf(b) }
	case "stop":
		less = func(a, b *ConnInfo) bool { return a.Stop.After(*b.Stop) }
	case "reason":
		less = func(a, b *ConnInfo) bool { return a.Reason < b.Reason }
	case "rtt":
		less = func(a, b *ConnInfo) bool { return a.rtt > b.rtt }
	default:
		return
	}
	sort.SliceStable(l, func(i, j int) bool { return less(l[i], l[j]) })
}

func (m *Monitor) handleLeafz(w http.ResponseWriter, r *http.Request) {
	subs, ok := decodeBool(w, r, "subs")
	if !ok {
		return
	}
	m.count(LeafzPath)
	l, err := m.Leafz(subs, r.URL.Query().Get("acc"))
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	respond(w, http.StatusOK, l, true)
}

// Leafz builds the /leafz document: the established leaf links, both
// those this server accepted and those it made.
func (m *Monitor) Leafz(subs bool, account string) (*Leafz, error) {
	infos, err := m.srv.Conns(loop.ConnsOptions{Open: true, Subs: subs})
	if err != nil {
		return nil, err
	}
	lz := &Leafz{ID: m.srv.ID(), Now: time.Now().UTC(), Leafs: []*LeafInfo{}}
	sort.Slice(infos, func(i, j int) bool { return infos[i].CID < infos[j].CID })
	for i := range infos {
		ci := &infos[i]
		if ci.Leaf == nil || (account != "" && ci.Account != account) {
			continue
		}
		li := &LeafInfo{
			ID:         ci.CID,
			Name:       ci.Leaf.Name,
			IsSpoke:    ci.Leaf.Spoke,
			IsIsolated: ci.Leaf.Isolated,
			Account:    ci.Account,
			IP:         ci.IP,
			Port:       ci.Port,
			RTT:        ci.RTT.String(),
			InMsgs:     ci.InMsgs,
			OutMsgs:    ci.OutMsgs,
			InBytes:    ci.InBytes,
			OutBytes:   ci.OutBytes,
			NumSubs:    uint32(ci.NumSubs),
			// As nats-server: the negotiated level, "off" or "not
			// supported".
			Compression: ci.Leaf.Compression,
		}
		if subs {
			li.Subs = make([]string, 0, len(ci.Subs))
			for _, s := range ci.Subs {
				li.Subs = append(li.Subs, s.Subject)
			}
		}
		lz.Leafs = append(lz.Leafs, li)
	}
	lz.NumLeafs = len(lz.Leafs)
	return lz, nil
}

func (m *Monitor) handleSubsz(w http.ResponseWriter, r *http.Request) {
	m.count(SubszPath)
	subs, ok := decodeBool(w, r, "subs")
	if !ok {
		return
	}
	offset, ok := decodeInt(w, r, "offset")
	if !ok {
		return
	}
	limit, ok := decodeInt(w, r, "limit")
	if !ok {
		return
	}
	q := r.URL.Query()
	sz, err := m.Subsz(subs, offset, limit, q.Get("acc"), q.Get("test"))
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	respond(w, http.StatusOK, sz, true)
}

// Subsz builds the /subsz document. test, when set, keeps the
// subscriptions a message published to that subject would reach.
func (m *Monitor) Subsz(subs bool, offset, limit int, account, test string) (*Subsz, error) {
	if test != "" && !sublist.ValidLiteral(test) {
		return nil, fmt.Errorf("invalid test subject, must be valid publish subject: %s", test)
	}
	offset = max(offset, 0)
	if limit <= 0 {
		limit = DefaultSubListSize
	}
	list, stats := m.srv.Subscriptions(account, subs)
	sz := &Subsz{ID: m.srv.ID(), Now: time.Now().UTC(), SublistStats: addStats(stats), Offset: offset, Limit: limit}
	if !subs {
		return sz, nil
	}
	details := make([]SubDetail, 0, len(list))
	for _, s := range list {
		if test != "" && !sublist.Matches(s.Subject, test) {
			continue
		}
		details = append(details, SubDetail{
			Account: s.Account, AccountTag: s.Account, Subject: s.Subject, Queue: s.Queue,
			Sid: s.SID, Msgs: s.Msgs, Max: s.Max, Cid: s.CID,
		})
	}
	sort.SliceStable(details, func(i, j int) bool {
		if details[i].Cid != details[j].Cid {
			return details[i].Cid < details[j].Cid
		}
		return details[i].Sid < details[j].Sid
	})
	lo := min(offset, len(details))
	hi := lo + min(limit, len(details)-lo)
	sz.Subs = details[lo:hi]
	sz.Total = len(details)
	return sz, nil
}

// addStats adds accounts' sublist figures up as nats-server does: sums,
// the largest fan-out, and rates recomputed from their parts.
func addStats(stats []sublist.Stats) *SublistStats {
	out := &SublistStats{}
	var hits, fanout float64
	for _, s := range stats {
		out.NumSubs += s.NumSubs
		out.NumCache += s.NumCache
		out.NumInserts += s.NumInserts
		out.NumRemoves += s.NumRemoves
		out.NumMatches += s.NumMatches
		out.MaxFanout = max(out.MaxFanout, s.MaxFanout)
		hits += s.CacheHitRate * float64(s.NumMatches)
		fanout += s.AvgFanout * float64(s.NumCache)
	}
	if out.NumMatches > 0 {
		out.CacheHitRate = hits / float64(out.NumMatches)
	}
	if out.NumCache > 0 {
		out.AvgFanout = fanout / float64(out.NumCache)
	}
	return out
}

func (m *Monitor) handleAccountz(w http.ResponseWriter, r *http.Request) {
	m.count(AccountzPath)
	a, err := m.Accountz(r.URL.Query().Get("acc"))
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	respond(w, http.StatusOK, a, true)
}

// Accountz builds the /accountz document: the account names, or one
// account's detail.
func (m *Monitor) Accountz(name string) (*Accountz, error) {
	st := m.srv.Stats()
	az := &Accountz{ID: st.ID, Now: time.Now().UTC(), SystemAccount: st.SystemAccount}
	if name == "" {
		az.Accounts = m.srv.AccountNames()
		return az, nil
	}
	as, ok := m.srv.Account(name)
	if !ok {
		//lint:ignore ST1005 nats-server's words, which tools may match
		return nil, fmt.Errorf("Account %s does not exist", name)
	}
	sl := addStats([]sublist.Stats{as.Sublist})
	ai := &AccountInfo{
		AccountName: as.Name,
		LastUpdate:  as.LastUpdate.UTC(),
		IsSystem:    as.System,
		Expired:     !as.Expires.IsZero() && time.Now().After(as.Expires),
		Complete:    true,
		LeafCnt:     as.Leafs,
		ClientCnt:   as.Clients,
		SubCnt:      as.NumSubs,
		NameTag:     as.Name,
		Sublist:     sl,
	}
	for _, e := range as.Exports {
		x := ExtExport{Subject: e.Subject, Type: "stream", TokenReq: e.TokenRequired,
			AccountTokenPosition: e.AccountTokenPosition, ApprovedAccounts: e.ApprovedAccounts()}
		if e.Service {
			x.Type = "service"
			x.ResponseType = responseType(e.ResponseType)
		}
		ai.Exports = append(ai.Exports, x)
	}
	if m.srv.SystemServices() {
		ex, im := systemImports(as.Name, st.SystemAccount, as.System)
		ai.Exports = append(ai.Exports, ex...)
		ai.Imports = append(ai.Imports, im...)
	}
	for _, im := range as.Imports {
		x := ExtImport{Subject: im.Subject, Account: im.Account, LocalSubject: im.To, Type: "stream", Share: im.Share}
		if im.Service {
			x.Type = "service"
			x.To = im.To
		}
		ai.Imports = append(ai.Imports, x)
	}
	az.Account = ai
	return az, nil
}

// responseType names a service export's response type as nats-server's
// /accountz does.
func responseType(t string) string {
	switch t {
	case "Stream", "Streamed":
		return "Streamed"
	case "Chunked":
		return "Chunked"
	}
	return "Singleton"
}

// systemImports are the exports and imports nats-server gives accounts
// when there is a system account: the system account exports its
// per-account services, every account imports its own CONNZ, STATZ and
// USER.INFO. Canopy serves the same subjects with internal subscriptions
// (loop/sysacc.go) and lists them as nats-server does.
func systemImports(acc, sysAcc string, system bool) ([]ExtExport, []ExtImport) {
	const sys = "$SYS.REQ."
	userInfo := ExtImport{Subject: sys + "USER." + acc + ".INFO", Account: sysAcc, To: sys + "USER.INFO",
		LocalSubject: sys + "USER.INFO", Type: "service", Share: true}
	if system {
		ex := []ExtExport{
			{Subject: sys + "ACCOUNT.*.CONNZ", Type: "service", ResponseType: "Streamed"},
			{Subject: sys + "ACCOUNT.*.STATZ", Type: "service", ResponseType: "Streamed"},
			{Subject: "$SYS.DEBUG.SUBSCRIBERS", Type: "service", ResponseType: "Singleton"},
			{Subject: sys + "USER.*.INFO", Type: "service", ResponseType: "Singleton"},
		}
		return ex, []ExtImport{userInfo}
	}
	im := []ExtImport{
		{Subject: sys + "ACCOUNT." + acc + ".CONNZ", Account: sysAcc, To: sys + "ACCOUNT.PING.CONNZ", LocalSubject: sys + "ACCOUNT.PING.CONNZ", Type: "service"},
		{Subject: sys + "ACCOUNT." + acc + ".CONNZ", Account: sysAcc, To: sys + "SERVER.PING.CONNZ", LocalSubject: sys + "SERVER.PING.CONNZ", Type: "service"},
		{Subject: sys + "ACCOUNT." + acc + ".STATZ", Account: sysAcc, To: sys + "ACCOUNT.PING.STATZ", LocalSubject: sys + "ACCOUNT.PING.STATZ", Type: "service"},
		userInfo,
	}
	return nil, im
}

func (m *Monitor) handleRoutez(w http.ResponseWriter, _ *http.Request) {
	m.count(RoutezPath)
	respond(w, http.StatusOK, &Routez{ID: m.srv.ID(), Name: m.srv.Name(), Now: time.Now().UTC(), Routes: []struct{}{}}, true)
}

func (m *Monitor) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	m.count(HealthzPath)
	hs := m.Healthz()
	code := hs.StatusCode
	hs.StatusCode = 0
	respond(w, code, hs, false)
}

// Healthz reports whether the server accepts connections: not before it
// has started, not in lame-duck mode, not once it is stopping, which is
// when nats-server's listeners are closed too.
func (m *Monitor) Healthz() *HealthStatus {
	st := m.srv.Stats()
	ready := !st.Start.IsZero() && !st.LameDuck
	select {
	case <-m.srv.Done():
		ready = false
	default:
	}
	if ready {
		return &HealthStatus{Status: "ok", StatusCode: http.StatusOK}
	}
	failed := "server"
	if st.Opts.LeafNode.Port != 0 {
		failed += ", leafnode"
	}
	return &HealthStatus{
		Status:     "error",
		StatusCode: http.StatusInternalServerError,
		Error:      "failed to be ready for connections after 1ms: " + failed,
	}
}

func (m *Monitor) handleStacksz(w http.ResponseWriter, _ *http.Request) {
	m.count(StackszPath)
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(buf)
}

// cpuSampler computes the process's CPU use as a percentage of one core,
// over the time since the previous sample (at least a second apart), as
// nats-server's /varz reports it, and its resident memory.
type cpuSampler struct {
	mu       sync.Mutex
	lastWall time.Time
	lastCPU  time.Duration
	pcpu     float64
}

func (c *cpuSampler) init() {
	c.lastWall, c.lastCPU = time.Now(), cpuTime()
}

func (c *cpuSampler) sample(now time.Time) (float64, int64) {
	c.mu.Lock()
	if wall := now.Sub(c.lastWall); wall >= time.Second || c.pcpu == 0 {
		cpu := cpuTime()
		if wall > 0 {
			c.pcpu = float64(cpu-c.lastCPU) / float64(wall) * 100
		}
		if wall >= time.Second {
			c.lastWall, c.lastCPU = now, cpu
		}
	}
	pcpu := c.pcpu
	c.mu.Unlock()
	return float64(int64(pcpu*10+0.5)) / 10, rss()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is the resident set size from /proc/self/statm, 0 if unreadable.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
