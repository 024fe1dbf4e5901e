package loop

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nuid"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/conf"
)

// The system account's services: the $SYS.REQ requests natscli and the
// other operators' tools send, answered in nats-server v2.15.2's subjects
// and envelopes (PROTOCOL.md 8).
//
// The requests arrive as internal subscriptions (internal.go) on the
// publisher's loop. The callback only copies the request and hands it to
// the system goroutine (sysState.run) through a queue that grows as
// needed up to a bound, past which it drops rather than wait: a loop
// never waits for a monitoring document. (A channel would have to be
// allocated at its full size up front, in every server.) The goroutine decodes the filter, builds the answer
// through the Reporter the monitor package registers (so the documents are
// those of the HTTP endpoints), and publishes it back with publishInternal.

// Reporter builds the monitoring documents the services answer with. The
// monitor package implements it and registers itself (SetReporter).
// Report is called on the system goroutine, never on a loop.
type Reporter interface {
	// Report returns the document of endpoint kind ("STATSZ", "VARZ",
	// "CONNZ", "SUBSZ", "LEAFZ", "ACCOUNTZ", "HEALTHZ", "ROUTEZ",
	// "GATEWAYZ", "JSZ", and for one account "ACCOUNT.CONNZ",
	// "ACCOUNT.LEAFZ", "ACCOUNT.SUBSZ", "ACCOUNT.INFO", "ACCOUNT.STATZ")
	// for the request's options (its JSON payload, possibly empty). acc
	// restricts it to one account when not "". ErrSkip asks for silence.
	Report(kind, acc string, opts []byte) (any, error)
}

// ErrSkip is what a Reporter returns when the request must get no answer
// at all (an account STATZ about an account with no connections).
var ErrSkip = errors.New("loop: no answer")

// sysReqQueue bounds the requests and events waiting for the system
// goroutine: a storm of connections makes one event each.
const sysReqQueue = 1 << 16

// sysReq is one request copied off a loop.
type sysReq struct {
	kind    string   // "STATSZ", "VARZ", ..., "ACCOUNT.CONNZ", "USER.INFO", "CONNS"
	acc     string   // the account a request is about
	replyTo *account // where the answer goes: the requester's account
	reply   string
	msg     []byte
	user    string // USER.INFO: the requester, its permissions and expiry
	perms   *auth.Permissions
	expires int64
	// ev is set for an event to encode and publish (events.go) instead.
	ev *sysEvent
}

// sysState is the system account's services of one server.
type sysState struct {
	srv   *Server
	acc   *account
	mu    sync.Mutex
	reqs  []sysReq // guarded by mu
	spare []sysReq // guarded by mu
	wake  chan struct{}
	rep   atomic.Pointer[reporterBox]
	seq   atomic.Uint64
	stop  chan struct{}
	wg    sync.WaitGroup
	stats statszTimer
}

type reporterBox struct{ r Reporter }

// SetReporter registers what builds the services' documents. It may be
// called at any time; until then only IDZ and PING-less requests that need
// no document are answered.
func (s *Server) SetReporter(r Reporter) {
	if s.sys != nil {
		s.sys.rep.Store(&reporterBox{r})
	}
}

// The subjects of nats-server's events.go.
const (
	sysPrefix        = "$SYS."
	sysServerPing    = "$SYS.REQ.SERVER.PING"
	sysServerReq     = "$SYS.REQ.SERVER."
	sysAccountReq    = "$SYS.REQ.ACCOUNT."
	sysUserInfo      = "$SYS.REQ.USER.INFO"
	sysAccPingConnz  = "$SYS.REQ.ACCOUNT.PING.CONNZ"
	sysAccPingStatz  = "$SYS.REQ.ACCOUNT.PING.STATZ"
	sysServerPingCZ  = "$SYS.REQ.SERVER.PING.CONNZ"
	sysStatszSubject = "$SYS.SERVER.%s.STATSZ"
)

// serverKinds are the endpoints of $SYS.REQ.SERVER.PING.<X> and
// $SYS.REQ.SERVER.<id>.<X>.
var serverKinds = map[string]bool{
	"STATSZ": true, "VARZ": true, "CONNZ": true, "SUBSZ": true, "LEAFZ": true, "ACCOUNTZ": true,
	"HEALTHZ": true, "IDZ": true, "ROUTEZ": true, "GATEWAYZ": true, "JSZ": true,
}

// accountKinds are the endpoints of $SYS.REQ.ACCOUNT.<acc>.<X>.
var accountKinds = map[string]bool{
	"CONNZ": true, "LEAFZ": true, "SUBSZ": true, "INFO": true, "STATZ": true, "CONNS": true,
}

// setupSystem starts the system account's services: in the account the
// configuration names (system_account, or the operator's), else in $SYS,
// as nats-server does, unless no_system_account turns them off. It runs
// in New, after the accounts are registered.
func (s *Server) setupSystem() {
	name := s.auth.SystemAccount()
	if name == "" || s.opts.NoSystemAccount && s.opts.SystemAccount == "" && !s.configuredAccount(conf.SystemAccount) {
		// no_system_account, as in nats-server, does not undo an account
		// named $SYS in the config: that one still is the system account.
		return
	}
	a := s.registerAccount(name)
	st := &sysState{srv: s, acc: a, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	s.sys = st
	for _, subj := range []string{sysServerPing, sysServerPing + ".*", sysServerReq + s.id + ".*",
		sysAccountReq + "*.*", sysUserInfo} {
		if _, err := s.subscribeInternalAs(a, subj, st.request, true); err != nil {
			s.log.Errorf("Error setting up internal tracking: %v", err)
		}
	}
	for _, o := range s.sortedAccounts() {
		st.addAccount(o)
	}
	st.wg.Add(1)
	go st.run()
}

// addAccount gives an account other than the system account the requests
// nats-server imports into every account: its own CONNZ and STATZ, and
// the caller's USER.INFO. They are answered in that account.
func (st *sysState) addAccount(a *account) {
	if a == st.acc {
		return
	}
	for _, subj := range []string{sysServerPingCZ, sysAccPingConnz, sysAccPingStatz, sysUserInfo} {
		if _, err := st.srv.subscribeInternalAs(a, subj, st.request, true); err != nil {
			st.srv.log.Errorf("Error setting up system service import %s for account: %v", subj, err)
		}
	}
}

// request is the services' internal subscription callback. It runs on
// the publisher's loop: it copies what it needs and queues it. It counts
// as a receiver whatever it does with the request, so a requester never
// gets a no-responders status from a service that chose silence.
func (st *sysState) request(_ *worker, src *client, sub *subscription, subject, reply []byte, hdr int, msg []byte) int {
	a := sub.c.acc
	r := sysReq{replyTo: a, reply: string(reply)}
	subj := string(subject)
	switch {
	case a != st.acc:
		// Another account's own view.
		r.acc = a.name
		switch subj {
		case sysServerPingCZ, sysAccPingConnz:
			r.kind = "ACCOUNT.CONNZ"
		case sysAccPingStatz:
			r.kind = "ACCOUNT.STATZ"
		case sysUserInfo:
			r.kind = "USER.INFO"
		}
	case subj == sysServerPing:
		r.kind = "STATSZ"
	case subj == sysUserInfo:
		r.kind, r.acc = "USER.INFO", a.name
	case strings.HasPrefix(subj, sysAccountReq):
		rest := subj[len(sysAccountReq):]
		i := strings.LastIndexByte(rest, '.')
		if i <= 0 || !accountKinds[rest[i+1:]] {
			return 1
		}
		r.acc, r.kind = rest[:i], "ACCOUNT."+rest[i+1:]
		if r.acc == "PING" && r.kind == "ACCOUNT.STATZ" {
			// Only STATZ has a ping form in the system account: every
			// account's figures. A CONNZ there asks, as nats-server's
			// does, about an account named PING.
			r.acc = ""
		}
	default:
		k := subj[strings.LastIndexByte(subj, '.')+1:]
		if !serverKinds[k] {
			return 1
		}
		r.kind = k
	}
	if r.kind == "" {
		return 1
	}
	if r.kind == "USER.INFO" {
		if src.meta != nil {
			r.user = src.meta.user
		}
		if pc := src.perms.Load(); pc != nil {
			r.perms = pc.Permissions()
		}
		r.expires = src.expires
	}
	if len(msg) > hdr {
		r.msg = append([]byte(nil), msg[hdr:]...)
	}
	st.queue(r)
	return 1
}

// queue hands a request or an event to the system goroutine; it never
// blocks. Past sysReqQueue waiting, the goroutine is far behind and new
// ones are dropped.
func (st *sysState) queue(r sysReq) {
	st.mu.Lock()
	if len(st.reqs) >= sysReqQueue {
		st.mu.Unlock()
		return
	}
	st.reqs = append(st.reqs, r)
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// take returns what is queued; give hands the slice back for reuse.
func (st *sysState) take() []sysReq {
	st.mu.Lock()
	defer st.mu.Unlock()
	q := st.reqs
	st.reqs = st.spare[:0]
	st.spare = nil
	return q
}

func (st *sysState) give(q []sysReq) {
	clear(q)
	st.mu.Lock()
	if st.spare == nil && cap(q) <= 1024 {
		st.spare = q[:0]
	}
	st.mu.Unlock()
}

// run is the system goroutine.
func (st *sysState) run() {
	defer st.wg.Done()
	tick := time.NewTimer(statszFirst)
	defer tick.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-st.wake:
			q := st.take()
			for i := range q {
				if q[i].ev != nil {
					st.publishEvent(q[i].ev)
				} else {
					st.serve(&q[i])
				}
			}
			st.give(q)
		case <-tick.C:
			tick.Reset(st.periodicStatsz())
		}
	}
}

// serverInfo is nats-server's ServerInfo: who answers.
type serverInfo struct {
	Name      string `json:"name"`
	Host      string `json:"host"`
	ID        string `json:"id"`
	Cluster   string `json:"cluster,omitempty"`
	Version   string `json:"ver"`
	JetStream bool   `json:"jetstream"`
	Flags     uint64 `json:"flags"`
	// FeatureFlags are nats-server's defaults: tools read the keys.
	FeatureFlags map[string]bool `json:"feature_flags,omitempty"`
	Seq          uint64          `json:"seq"`
	Time         time.Time       `json:"time"`
}

func (st *sysState) info() *serverInfo {
	s := st.srv
	return &serverInfo{Name: s.name, Host: s.Options().Host, ID: s.id, Cluster: s.clusterName(), Version: CompatVersion,
		FeatureFlags: FeatureFlags(), Seq: st.seq.Add(1), Time: time.Now().UTC()}
}

type apiError struct {
	Code        int    `json:"code"`
	Description string `json:"description,omitempty"`
}

// apiResponse is nats-server's ServerAPIResponse.
type apiResponse struct {
	Server *serverInfo `json:"server"`
	Data   any         `json:"data,omitempty"`
	Error  *apiError   `json:"error,omitempty"`
}

// statszMsg is nats-server's ServerStatsMsg.
type statszMsg struct {
	Server *serverInfo `json:"server"`
	Stats  any         `json:"statsz"`
}

// eventFilter is nats-server's EventFilterOptions: which servers a
// request is for.
type eventFilter struct {
	Name       string   `json:"server_name,omitempty"`
	Cluster    string   `json:"cluster,omitempty"`
	Host       string   `json:"host,omitempty"`
	ExactMatch bool     `json:"exact_match,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Domain     string   `json:"domain,omitempty"`
}

// skip reports whether a request's filter leaves this server out. Names
// match as substrings unless exact_match; this server has no tags and no
// JetStream domain, so asking for any leaves it out.
func (st *sysState) skip(f *eventFilter) bool {
	s := st.srv
	match := func(want, have string) bool {
		if want == "" {
			return true
		}
		if f.ExactMatch {
			return want == have
		}
		return strings.Contains(have, want)
	}
	if !match(f.Name, s.name) || !match(f.Host, s.Options().Host) || !match(f.Cluster, s.clusterName()) {
		return true
	}
	return len(f.Tags) > 0 || f.Domain != ""
}

// serve answers one request on the system goroutine.
func (st *sysState) serve(r *sysReq) {
	var f eventFilter
	var decodeErr error
	if len(r.msg) > 0 {
		if decodeErr = json.Unmarshal(r.msg, &f); decodeErr == nil && st.skip(&f) {
			return
		}
	}
	switch r.kind {
	case "IDZ":
		if r.reply == "" {
			return
		}
		s := st.srv
		st.send(r.replyTo, r.reply, struct {
			Name string `json:"name"`
			Host string `json:"host"`
			ID   string `json:"id"`
		}{s.name, s.Options().Host, s.id})
		return
	case "STATSZ":
		reply := r.reply
		if reply == "" {
			// No reply: broadcast, and restart the periodic timer's
			// count, as nats-server does.
			reply = strings.Replace(sysStatszSubject, "%s", st.srv.id, 1)
		}
		if decodeErr != nil {
			st.send(r.replyTo, reply, &apiResponse{Server: &serverInfo{},
				Error: &apiError{Code: http.StatusBadRequest, Description: decodeErr.Error()}})
			return
		}
		st.sendStatsz(r.replyTo, reply)
		return
	case "USER.INFO":
		if r.reply == "" {
			return
		}
		ui := &userInfo{User: r.user, Account: r.acc, AccountName: st.srv.nameTag(r.acc),
			Permissions: r.perms.Public()}
		if r.expires != 0 {
			ui.Expires = time.Until(time.Unix(0, r.expires)).Truncate(time.Second)
		}
		st.send(r.replyTo, r.reply, &apiResponse{Server: st.info(), Data: ui})
		return
	case "ACCOUNT.CONNS":
		if r.reply == "" {
			return
		}
		st.sendConns(r.replyTo, r.acc, r.reply)
		return
	}
	if r.reply == "" {
		return
	}
	resp := &apiResponse{Server: &serverInfo{}}
	if decodeErr != nil {
		resp.Error = &apiError{Code: http.StatusBadRequest, Description: decodeErr.Error()}
		st.send(r.replyTo, r.reply, resp)
		return
	}
	box := st.rep.Load()
	if box == nil {
		return
	}
	d, err := box.r.Report(r.kind, r.acc, r.msg)
	switch {
	case errors.Is(err, ErrSkip):
		return
	case err != nil:
		resp.Error = &apiError{Code: http.StatusInternalServerError, Description: err.Error()}
	default:
		resp.Data = d
	}
	resp.Server = st.info()
	st.send(r.replyTo, r.reply, resp)
}

// report asks the Reporter for a document outside an envelope.
func (st *sysState) report(kind, acc string, opts []byte) (any, bool) {
	box := st.rep.Load()
	if box == nil {
		return nil, false
	}
	d, err := box.r.Report(kind, acc, opts)
	return d, err == nil
}

// userInfo is nats-server's UserInfo.
type userInfo struct {
	User        string                  `json:"user"`
	Account     string                  `json:"account"`
	AccountName string                  `json:"account_name,omitempty"`
	UserName    string                  `json:"user_name,omitempty"`
	Permissions *auth.PublicPermissions `json:"permissions,omitempty"`
	Expires     time.Duration           `json:"expires,omitempty"`
}

// send encodes v and publishes it in account a.
func (st *sysState) send(a *account, subject string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		st.srv.log.Errorf("Error encoding internal message for %q: %v", subject, err)
		return
	}
	st.srv.publishInternal(a, subject, "", 0, b)
}

// sendStatsz publishes a STATSZ message on subject.
func (st *sysState) sendStatsz(a *account, subject string) {
	d, ok := st.report("STATSZ", "", nil)
	if !ok {
		return
	}
	st.send(a, subject, &statszMsg{Server: st.info(), Stats: d})
}

// stopSystem ends the system goroutine; the shutdown event goes out first.
func (s *Server) stopSystem() {
	st := s.sys
	if st == nil {
		return
	}
	select {
	case <-st.stop:
		return
	default:
	}
	close(st.stop)
	st.wg.Wait()
}

// FeatureFlags are the feature flags nats-server v2.15.2 reports by
// default, in /varz and in every server identity of the system account.
func FeatureFlags() map[string]bool {
	return map[string]bool{"js_ack_fc_v2": false, "js_api_reply_v2": false,
		"js_raft_delete_range": true, "js_snapshot_sources": false}
}

// sendConns publishes an account_connections advisory about account acc
// on each subject: the answer to $SYS.REQ.ACCOUNT.<acc>.CONNS, and the
// event that follows a connect or disconnect. It is the Reporter's
// figures with the event's header added.
func (st *sysState) sendConns(a *account, acc string, subjects ...string) {
	d, ok := st.report("ACCOUNT.CONNS", acc, nil)
	if !ok {
		return
	}
	b, err := json.Marshal(d)
	if err != nil {
		return
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return
	}
	m["type"] = "io.nats.server.advisory.v1.account_connections"
	m["id"] = nuid.Next()
	m["timestamp"] = time.Now().UTC()
	m["server"] = st.info()
	for _, s := range subjects {
		st.send(a, s, m)
	}
}

// clusterName is the cluster the server reports: none, except that a
// server with leaf remotes and a configured server_name goes by that name,
// as nats-server does without a cluster block (it takes the name as its
// cluster before a default name exists, so an unnamed server has none).
// It may be called from any goroutine.
func (s *Server) clusterName() string {
	o := s.Options()
	if len(o.LeafNode.Remotes) > 0 && o.ServerName != "" {
		return o.ServerName
	}
	return ""
}

// nameTag is how events name an account: its JWT's name in operator mode,
// its name otherwise.
func (s *Server) nameTag(name string) string {
	if a := s.lookupAccount(name); a != nil {
		s.mu.Lock()
		info := a.info
		s.mu.Unlock()
		if info != nil && info.NameTag != "" {
			return info.NameTag
		}
	}
	return name
}

// configuredAccount reports whether the config file defines an account
// of this name.
func (s *Server) configuredAccount(name string) bool {
	for _, a := range s.opts.Accounts {
		if a != nil && a.Name == name {
			return true
		}
	}
	return false
}

// SystemServices reports whether the system account's services run (all
// but a configuration with no_system_account).
func (s *Server) SystemServices() bool { return s.sys != nil }
