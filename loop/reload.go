package loop

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/conf"
	"github.com/canopy-nats/canopy/leaf"
)

// Reload applies a new configuration to the running server, as
// nats-server's SIGHUP does, without dropping the connections the change
// does not concern.
//
// What it applies:
//   - authorization (token, user and password, users and their
//     permissions, nkeys, default permissions, no_auth_user, timeout),
//     config accounts' users and limits, and the leafnodes authorization:
//     every client and accepted leaf link is checked again against the new
//     rules. One that no longer authenticates is closed with
//     -ERR 'Authorization Violation'; one whose user moved to another
//     account is closed; the others keep their connection and get their
//     new permissions at once, losing any subscription those no longer
//     allow (with a permissions-violation -ERR, as nats-server does). An
//     accepted leaf link whose permissions changed is closed so that it
//     comes back with them;
//   - leaf remotes: removed ones stop dialling and their link closes, new
//     ones start, and a changed one counts as removed plus added; links of
//     unchanged remotes stay up;
//   - limits: max_payload, max_control_line and the auth timeout for new
//     connections; max_connections (clients over a lower limit are closed,
//     chosen at random), max_subscriptions, max_pending, write_deadline,
//     ping_interval, ping_max, lame-duck timings;
//   - debug and trace, through the logger's SetLevels when it has one. The
//     log destination (log_file, syslog, logtime) is the caller's: the
//     server does not own its logger's output.
//
// What it refuses, keeping the old configuration and returning why:
// anything else that changed, among which listen addresses and ports
// (-1, a random port, keeps the one bound), server_name, http settings,
// no_header_support, operator mode settings, the system account, the
// leafnodes listener and reconnect settings, and account imports and
// exports. A change of loops is not applied (the loops are fixed at
// start) and is only reported in the log.
//
// Reload must not be called from an event loop. Concurrent calls run one
// after the other.
func (s *Server) Reload(opts *conf.Options) error {
	s.ops.reloadMu.Lock()
	defer s.ops.reloadMu.Unlock()
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if !running || s.shutdown.Load() {
		return ErrNotRunning
	}
	opts.Normalize()
	cur := s.Options()
	changed, err := s.checkReloadable(cur, opts)
	if err != nil {
		return err
	}
	authn, jwts, err := s.newAuth(opts)
	if err != nil {
		return err
	}
	tlsClient, tlsLeaf, err := buildTLS(opts)
	if err != nil {
		return err
	}
	if (tlsClient == nil) != (s.tls.client.Load() == nil) || (tlsLeaf == nil) != (s.tls.leaf.Load() == nil) {
		return fmt.Errorf("config reload not supported for tls: it cannot be turned on or off while running")
	}
	added, removed, err := s.diffRemotes(opts)
	if err != nil {
		return err
	}
	for _, r := range added {
		if _, ok := authn.LookupAccount(r.Account()); !ok && r.Account() != conf.GlobalAccount {
			return fmt.Errorf("loop: leafnode remote binds to unknown account %q", r.Account())
		}
	}
	for _, w := range authn.Warnings() {
		s.log.Warnf("%s", w)
	}
	for _, info := range authn.Accounts() {
		s.registerAccount(info.Name)
	}

	snaps, err := s.swapConfig(opts, authn)
	if err != nil {
		return err
	}
	if s.res != nil {
		s.res.applied = jwts
	}
	s.storeTLS(tlsClient, tlsLeaf)
	s.ops.mu.Lock()
	s.ops.configTime = time.Now()
	s.ops.mu.Unlock()

	if ls, ok := s.log.(interface{ SetLevels(debug, trace bool) }); ok {
		ls.SetLevels(opts.Debug, opts.Trace)
	}
	s.tracing.Store(opts.Trace)
	for _, key := range changed {
		s.log.Noticef("Reloaded: %s", key)
	}
	s.recheckConnections(snaps, authn, opts, nil)
	s.reloadRemotes(added, removed)
	s.log.Noticef("Reloaded server configuration")
	return nil
}

// reloadKeys names, by Options field, what Reload may change, with the
// configuration key the log names it by.
var reloadKeys = map[string]string{
	"MaxConn": "max_connections", "MaxPayload": "max_payload", "MaxPending": "max_pending",
	"MaxControlLine": "max_control_line", "MaxSubs": "max_subscriptions",
	"PingInterval": "ping_interval", "MaxPingsOut": "ping_max", "WriteDeadline": "write_deadline",
	"Debug": "debug", "Trace": "trace", "TraceVerbose": "trace_verbose", "Logtime": "logtime",
	"NoLogtime": "logtime", "LogFile": "log_file", "Syslog": "syslog", "RemoteSyslog": "remote_syslog",
	"PidFile": "pid_file", "Authorization": "authorization", "NoAuthUser": "no_auth_user",
	"Accounts": "accounts", "LameDuckDuration": "lame_duck_duration",
	"LameDuckGracePeriod": "lame_duck_grace_period", "TLS": "tls",
}

// leafReloadKeys are the leafnodes fields Reload may change.
var leafReloadKeys = map[string]string{
	"Remotes": "leafnodes remotes", "Username": "leafnodes authorization",
	"Password": "leafnodes authorization", "Account": "leafnodes authorization",
	"Users": "leafnodes authorization", "Nkey": "leafnodes authorization",
	"AuthTimeout": "leafnodes authorization timeout", "Compression": "leafnodes compression",
	"TLS": "leafnodes tls",
}

// checkReloadable compares the options field by field. It returns the
// configuration keys that changed and may change, or the first change that
// may not. Random ports and the loop count are carried over into next.
func (s *Server) checkReloadable(cur, next *conf.Options) ([]string, error) {
	if next.Port == -1 {
		next.Port = cur.Port
	}
	if next.HTTPPort == -1 {
		next.HTTPPort = cur.HTTPPort
	}
	if next.LeafNode.Port == -1 {
		next.LeafNode.Port = cur.LeafNode.Port
	}
	if next.Loops != cur.Loops {
		s.log.Warnf("Config reload: loops cannot change while running; keeping %d", cur.Loops)
		next.Loops = cur.Loops
	}
	var keys []string
	seen := map[string]bool{}
	note := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if err := diffStruct(reflect.ValueOf(cur).Elem(), reflect.ValueOf(next).Elem(), "", func(name string) (string, bool) {
		switch name {
		case "ConfigFile", "ConfigDigest", "Loops":
			return "", true
		}
		k, ok := reloadKeys[name]
		return k, ok
	}, note); err != nil {
		return nil, err
	}
	if err := diffStruct(reflect.ValueOf(&cur.LeafNode).Elem(), reflect.ValueOf(&next.LeafNode).Elem(), "LeafNode.", func(name string) (string, bool) {
		k, ok := leafReloadKeys[name]
		return k, ok
	}, note); err != nil {
		return nil, err
	}
	if err := sameImportsExports(cur.Accounts, next.Accounts); err != nil {
		return nil, err
	}
	return keys, nil
}

// diffStruct walks the exported fields of two values of one struct type.
// A field that differs is either reloadable (allowed returns its key) or an
// error; LeafNode is left to its own walk.
func diffStruct(a, b reflect.Value, prefix string, allowed func(string) (string, bool), note func(string)) error {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Name == "LeafNode" {
			continue
		}
		av, bv := a.Field(i).Interface(), b.Field(i).Interface()
		if reflect.DeepEqual(av, bv) {
			continue
		}
		key, ok := allowed(f.Name)
		if !ok {
			return unsupported(prefix+f.Name, a.Field(i), b.Field(i))
		}
		if key != "" {
			note(key)
		}
	}
	return nil
}

// unsupported words a refused change as nats-server does; values are shown
// only for plain scalars, never for blocks that may hold secrets.
func unsupported(name string, a, b reflect.Value) error {
	switch a.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int32, reflect.Int64:
		return fmt.Errorf("config reload not supported for %s: old=%v, new=%v", name, a.Interface(), b.Interface())
	}
	return fmt.Errorf("config reload not supported for %s", name)
}

// sameImportsExports refuses a reload that changes what accounts import or
// export: the import routes are wired once, at start.
func sameImportsExports(cur, next []*conf.Account) error {
	type io struct {
		exp []*conf.Export
		imp []*conf.Import
	}
	index := func(accs []*conf.Account) map[string]io {
		m := make(map[string]io)
		for _, a := range accs {
			if len(a.Exports) > 0 || len(a.Imports) > 0 {
				m[a.Name] = io{a.Exports, a.Imports}
			}
		}
		return m
	}
	ci, ni := index(cur), index(next)
	names := make([]string, 0, len(ci)+len(ni))
	for n := range ci {
		names = append(names, n)
	}
	for n := range ni {
		if _, ok := ci[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if !reflect.DeepEqual(ci[n], ni[n]) {
			return fmt.Errorf("config reload not supported for imports and exports of account %q", n)
		}
	}
	return nil
}

// diffRemotes matches the configured remotes against the running ones: a
// running remote whose configuration is unchanged keeps running. It builds
// the remotes to add, so that an invalid one fails the reload before
// anything changed.
func (s *Server) diffRemotes(opts *conf.Options) (added []*leaf.Remote, removed []*leaf.Remote, err error) {
	s.ops.mu.Lock()
	running := make([]*leaf.Remote, 0, len(s.ops.remotes))
	for r := range s.ops.remotes {
		running = append(running, r)
	}
	s.ops.mu.Unlock()
	kept := make(map[*leaf.Remote]bool)
	for _, rc := range opts.LeafNode.Remotes {
		var match *leaf.Remote
		for _, r := range running {
			if !kept[r] && reflect.DeepEqual(r.Config(), rc) {
				match = r
				break
			}
		}
		if match != nil {
			kept[match] = true
			continue
		}
		r, err := leaf.NewRemote(rc, &opts.LeafNode)
		if err != nil {
			return nil, nil, err
		}
		added = append(added, r)
	}
	for _, r := range running {
		if !kept[r] {
			removed = append(removed, r)
		}
	}
	return added, removed, nil
}

// reloadSnap is what a reload needs to know of one connection, taken on its
// loop while the loops are paused.
type reloadSnap struct {
	c       *client
	creds   *auth.ConnectCreds
	nonce   string
	ip      string
	account string
	perms   *auth.Permissions // nil: everything allowed
	leaf    bool              // an accepted leaf link
}

// swapConfig pauses every event loop, installs the new options and
// authenticator while none runs, and resumes them. The loops read the
// options and the authenticator without a lock; pausing them makes the
// swap safe without adding a lock or an atomic load to their paths. Each
// paused loop reports its connections on the way.
//
// A loop that has never run a connection cannot be paused, since it has no
// worker yet; it must pass through workerOf (under wmu) before it reads
// anything, so the swap holds wmu. If such a loop showed up while the
// others were being paused, the pause is redone.
func (s *Server) swapConfig(opts *conf.Options, authn *auth.Authenticator) ([][]reloadSnap, error) {
	for attempt := 0; attempt <= len(s.workers); attempt++ {
		ws := s.knownWorkers()
		snaps, release, err := pauseLoops(ws)
		if err != nil {
			return nil, err
		}
		s.wmu.Lock()
		if len(s.wmap) != len(ws) {
			s.wmu.Unlock()
			close(release)
			continue
		}
		s.mu.Lock()
		s.opts = opts
		s.auth = authn
		for _, info := range authn.Accounts() {
			if a := s.accounts[info.Name]; a != nil {
				a.info = info
			}
		}
		s.mu.Unlock()
		s.wmu.Unlock()
		close(release)
		return snaps, nil
	}
	return nil, ErrLoopsBusy
}

// pauseLoops parks a task on each loop until release is closed, and
// returns each loop's connections once all are parked. A parked task gives
// up after twice loopTimeout, longer than pauseLoops waits, so a loop can
// never stay parked by a reload that gave up.
func pauseLoops(ws []*worker) ([][]reloadSnap, chan struct{}, error) {
	release := make(chan struct{})
	type answer struct {
		i     int
		snaps []reloadSnap
	}
	ch := make(chan answer, len(ws))
	n := 0
	for i, w := range ws {
		task := gnet.RunnableFunc(func(context.Context) error {
			ch <- answer{i, w.reloadSnaps()}
			t := time.NewTimer(2 * loopTimeout)
			defer t.Stop()
			select {
			case <-release:
			case <-t.C:
			}
			return nil
		})
		if err := w.el.Execute(context.Background(), task); err != nil {
			close(release)
			return nil, nil, ErrNotRunning
		}
		n++
	}
	out := make([][]reloadSnap, len(ws))
	timer := time.NewTimer(loopTimeout)
	defer timer.Stop()
	for ; n > 0; n-- {
		select {
		case a := <-ch:
			out[a.i] = a.snaps
		case <-timer.C:
			close(release)
			return nil, nil, ErrLoopsBusy
		}
	}
	return out, release, nil
}

// reloadSnaps lists the loop's connections that a reload checks again:
// authenticated clients and accepted leaf links. It runs on w's loop.
func (w *worker) reloadSnaps() []reloadSnap {
	var out []reloadSnap
	for _, c := range w.clients {
		if c.closed.Load() || c.acc == nil {
			continue
		}
		sn := reloadSnap{c: c, creds: c.creds, nonce: c.nonce, ip: c.ip(), account: c.acc.name}
		switch {
		case c.kind == kindClient:
			if pc := c.perms.Load(); pc != nil {
				sn.perms = pc.Permissions()
			}
		case c.kind == kindLeaf && c.leaf.remote == nil && c.leaf.established:
			sn.leaf = true
			if c.leaf.check != nil {
				sn.perms = c.leaf.check.Permissions()
			}
		default:
			continue
		}
		out = append(out, sn)
	}
	return out
}

// reloadAction is what happens to one connection after a reload.
type reloadAction uint8

const (
	keepConn reloadAction = iota
	updateConn
	closeUnauthorized
	closeMoved
	closeOverLimit
	closeLeafPerms
	closeRevoked
	closeSigner
	closeAccountGone
	closeAccountConns
)

type reloadDecision struct {
	snap   reloadSnap
	action reloadAction
	id     *auth.Identity
	err    error
}

// recheckConnections authenticates every connection again against the new
// rules, off the loops (bcrypt may be slow; identical credentials are
// checked once), then applies the outcome on each connection's loop. With
// only set, only the connections bound to those accounts are checked (a
// resolver update: the others' accounts did not change).
func (s *Server) recheckConnections(snaps [][]reloadSnap, authn *auth.Authenticator, opts *conf.Options, only map[string]bool) {
	// A check made again never looks an account up: an account that
	// went away is gone for its users.
	authn = authn.WithoutFetch()
	type key struct {
		creds auth.ConnectCreds
		nonce string
		leaf  bool
	}
	type verdict struct {
		id  *auth.Identity
		err error
	}
	cache := make(map[key]verdict)
	decisions := make([][]reloadDecision, len(snaps))
	type ref struct{ i, j int }
	var keptClients []ref
	for i, per := range snaps {
		decisions[i] = make([]reloadDecision, 0, len(per))
		for _, sn := range per {
			if only != nil && !only[sn.account] {
				continue
			}
			k := key{nonce: sn.nonce, leaf: sn.leaf}
			if sn.creds != nil {
				k.creds = *sn.creds
			}
			k.creds.Host = sn.ip
			v, ok := cache[k]
			if !ok {
				creds := k.creds
				if sn.leaf {
					v.id, v.err = authn.AuthenticateLeaf(&creds, sn.nonce)
				} else {
					v.id, v.err = authn.Authenticate(&creds, sn.nonce)
				}
				cache[k] = v
			}
			d := reloadDecision{snap: sn, id: v.id, err: v.err}
			switch {
			case errors.Is(v.err, auth.ErrRevoked):
				d.action = closeRevoked
			case errors.Is(v.err, auth.ErrUnknownSigner):
				d.action = closeSigner
			case errors.Is(v.err, auth.ErrUnknownAccount):
				// Its account is gone (a resolver deleted it): nats-server
				// expires the account.
				d.action = closeAccountGone
			case v.err != nil:
				d.action = closeUnauthorized
			case v.id.Account != sn.account:
				d.action = closeMoved
			case sn.leaf && !reflect.DeepEqual(v.id.Perms, sn.perms):
				d.action = closeLeafPerms
			case sn.leaf:
				d.action = keepConn
			default:
				d.action = updateConn
			}
			decisions[i] = append(decisions[i], d)
			if !sn.leaf && d.action == updateConn {
				keptClients = append(keptClients, ref{i, len(decisions[i]) - 1})
			}
		}
	}
	if authn.Operator() {
		// An account JWT whose connection limit went down closes the
		// newest of its clients over the limit, as nats-server does.
		byAcc := make(map[string][]ref)
		for _, r := range keptClients {
			d := &decisions[r.i][r.j]
			if info := d.id.AccountInfo; info != nil && info.MaxConnections > 0 {
				byAcc[d.id.Account] = append(byAcc[d.id.Account], r)
			}
		}
		for _, refs := range byAcc {
			limit := decisions[refs[0].i][refs[0].j].id.AccountInfo.MaxConnections
			if len(refs) <= limit {
				continue
			}
			sort.Slice(refs, func(x, y int) bool {
				return decisions[refs[x].i][refs[x].j].snap.c.cid < decisions[refs[y].i][refs[y].j].snap.c.cid
			})
			for _, r := range refs[limit:] {
				decisions[r.i][r.j].action = closeAccountConns
			}
		}
	}
	if max := opts.MaxConn; max > 0 && len(keptClients) > max {
		over := len(keptClients) - max
		s.log.Noticef("Closing %d existing clients due to new max_connections: %d", over, max)
		rand.Shuffle(len(keptClients), func(i, j int) { keptClients[i], keptClients[j] = keptClients[j], keptClients[i] })
		for _, r := range keptClients[:over] {
			decisions[r.i][r.j].action = closeOverLimit
		}
	}
	ws := s.knownWorkers()
	byWorker := make(map[*worker][]reloadDecision)
	for _, per := range decisions {
		for _, d := range per {
			byWorker[d.snap.c.w] = append(byWorker[d.snap.c.w], d)
		}
	}
	_, err := onLoops(ws, func(w *worker) struct{} {
		w.now = time.Now().UnixNano()
		for _, d := range byWorker[w] {
			w.applyReload(d)
		}
		w.flush()
		return struct{}{}
	})
	if err != nil {
		s.log.Errorf("Config reload: %v; some connections keep their old permissions", err)
	}
}

// applyReload carries out one decision on the connection's loop, unless the
// connection closed or authenticated again since it was looked at.
func (w *worker) applyReload(d reloadDecision) {
	c := d.snap.c
	if c.closed.Load() || c.creds != d.snap.creds || c.acc == nil || c.acc.name != d.snap.account {
		return
	}
	s := c.srv
	switch d.action {
	case closeUnauthorized:
		c.logAuthError(c.creds, d.err)
		c.closeWith(reasonAuthFailure, errAuthViolation)
	case closeRevoked:
		s.log.Debugf("%s - %v", c, d.err)
		c.closeWith(reasonRevocation, auth.WireUserRevoked)
	case closeAccountGone:
		s.log.Debugf("%s - %v", c, d.err)
		c.closeWith(reasonAuthExpired, auth.WireAccountExpired)
	case closeAccountConns:
		c.closeWith(reasonMaxConns, auth.WireAccountConnections)
	case closeSigner:
		// nats-server closes these without an -ERR.
		s.log.Debugf("%s - %v", c, d.err)
		c.closeWith(reasonAuthFailure, "")
	case closeMoved:
		s.log.Noticef("%s - Closing connection: its user moved to account %q", c, d.id.Account)
		c.closeWith(reasonClientClosed, "")
	case closeOverLimit:
		c.closeWith(reasonMaxConns, errMaxConns)
	case closeLeafPerms:
		s.log.Noticef("%s - Closing leafnode connection: its permissions changed", c)
		c.closeWith(reasonClientClosed, "")
	case updateConn:
		c.rebind(d.id)
	}
}

// rebind gives a client that is still authorized its new identity's
// permissions and limits, dropping the subscriptions they no longer allow.
func (c *client) rebind(id *auth.Identity) {
	old := c.perms.Load()
	var oldPerms *auth.Permissions
	if old != nil {
		oldPerms = old.Permissions()
	}
	c.maxSubs = id.MaxSubs // as in bind: zero allows none
	// The payload limit follows a reload at once, as nats-server updates
	// every client's.
	c.p.MaxPayload = int(c.srv.opts.MaxPayload)
	if id.MaxPayload > 0 && int(id.MaxPayload) < c.p.MaxPayload {
		c.p.MaxPayload = int(id.MaxPayload)
	}
	c.expires = 0
	if !id.Expires.IsZero() {
		c.expires = id.Expires.UnixNano()
	}
	if reflect.DeepEqual(oldPerms, id.Perms) {
		// Unchanged: keep the checker, with the replies it tracks.
		return
	}
	var pc *auth.Checker
	if id.Perms != nil {
		pc = auth.NewChecker(id.Perms)
	}
	c.perms.Store(pc)
	subs := make([]*subscription, 0, c.subs.len())
	for sub := range c.subs.all() {
		subs = append(subs, sub)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].sid < subs[j].sid })
	for _, sub := range subs {
		if pc != nil && !pc.Subscribe(sub.subject, sub.queue) {
			c.removeSub(sub)
			c.sendErr(subRemovedText(sub))
			c.srv.log.Noticef("Removed sub %q%s (sid %q) for %s - not authorized",
				sub.subject, queueNote(sub.queue), sub.sid, c)
			continue
		}
		need := pc != nil && id.Perms.NeedsDeliveryFilter(sub.subject, sub.queue)
		if need || sub.filter != nil {
			// Other loops read a subscription's filter while delivering,
			// so it is never changed in place: the subscription is
			// replaced by one with the new filter.
			c.replaceSub(sub, id.Perms, need)
		}
	}
}

// replaceSub swaps sub for an identical subscription with a new delivery
// filter, keeping its delivery count and limit.
func (c *client) replaceSub(sub *subscription, perms *auth.Permissions, filter bool) {
	ns := &subscription{c: c, subject: sub.subject, queue: sub.queue, sid: sub.sid}
	if filter {
		ns.filter = perms
	}
	ns.max.Store(sub.max.Load())
	ns.nm.Store(sub.nm.Load())
	ns.seen.Store(sub.seen.Load())
	c.removeSub(sub)
	if err := c.acc.addSub(c.w, ns); err != nil {
		return
	}
	c.subs.put(ns)
}

func subRemovedText(sub *subscription) string {
	if sub.queue != "" {
		return fmt.Sprintf("Permissions Violation for Subscription to %q using queue %q (sid %q)", sub.subject, sub.queue, sub.sid)
	}
	return fmt.Sprintf("Permissions Violation for Subscription to %q (sid %q)", sub.subject, sub.sid)
}

func queueNote(q string) string {
	if q == "" {
		return ""
	}
	return fmt.Sprintf(" using queue %q", q)
}

// reloadRemotes stops the removed remotes, closes their links, and starts
// the added ones.
func (s *Server) reloadRemotes(added, removed []*leaf.Remote) {
	for _, r := range removed {
		s.ops.mu.Lock()
		rr := s.ops.remotes[r]
		delete(s.ops.remotes, r)
		s.ops.mu.Unlock()
		if rr == nil {
			continue
		}
		rr.cancel()
		// Once Run has returned it can enroll no further link, so the
		// sweep below finds every link it made.
		select {
		case <-rr.done:
		case <-time.After(loopTimeout):
		}
		s.log.Noticef("Reloaded: removed leafnode remote %s", remoteName(r))
	}
	if len(removed) > 0 {
		gone := make(map[*leaf.Remote]bool, len(removed))
		for _, r := range removed {
			gone[r] = true
		}
		_, err := onLoops(s.knownWorkers(), func(w *worker) struct{} {
			for i := len(w.clients) - 1; i >= 0; i-- {
				if i >= len(w.clients) {
					continue
				}
				c := w.clients[i]
				if c.kind == kindLeaf && c.leaf.remote != nil && gone[c.leaf.remote] {
					c.closeWith(reasonClientClosed, "")
				}
			}
			w.flush()
			return struct{}{}
		})
		if err != nil {
			s.log.Errorf("Config reload: closing removed leafnode remotes: %v", err)
		}
	}
	s.ops.mu.Lock()
	ctx := s.ops.remotesCtx
	s.ops.mu.Unlock()
	if ctx == nil {
		return
	}
	for _, r := range added {
		s.runRemote(ctx, r)
		s.log.Noticef("Reloaded: added leafnode remote %s", remoteName(r))
	}
}

// remoteName shows a remote by its URLs, without credentials.
func remoteName(r *leaf.Remote) string {
	var names []string
	for _, u := range r.Config().URLs {
		names = append(names, leaf.Redact(u))
	}
	return strings.Join(names, ", ")
}

// ErrReloadNoFile is what a reload says when the server was started
// without a configuration file, in nats-server's words.
var ErrReloadNoFile = errors.New("can only reload config when a file is provided using -c or --config")
