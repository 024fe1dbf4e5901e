package loop

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/nats-io/nuid"

	"github.com/canopy-nats/canopy/auth"
	"github.com/canopy-nats/canopy/conf"
)

// The account resolvers of operator mode (resolver { type: full|cache,
// dir: ... }, and MEMORY) and the $SYS.REQ.CLAIMS services of nats-server
// v2.15.2's accounts.go.
//
// The account JWTs live in an auth.DirStore (in memory for MEMORY). The
// authenticator is built from them (and resolver_preload) and, like every
// authenticator, never changes: when the store changes, a new one is built
// and installed the way a configuration reload installs one (swapConfig),
// and the connections of the accounts whose JWT changed are checked again
// against it (recheckConnections). So an update takes effect on connected
// clients as a reload does: a revoked user, one whose signing key is gone,
// one of a deleted account or over a lowered connection limit is closed;
// the others get their new limits and permissions; imports are wired again
// where they changed. A full resolver also compares its set with its
// peers' every interval ($SYS.REQ.CLAIMS.PACK) and takes what it lacks.
//
// Requests arrive as internal subscriptions of the system account, on the
// publisher's loop; the callbacks copy them and hand them to the resolver
// goroutine, which writes files and installs authenticators, never a loop.
//
// A cache resolver (and a full one, for an account it lacks) looks an
// unknown account up by sending $SYS.REQ.ACCOUNT.<key>.CLAIMS.LOOKUP in
// the system account with a reply subject under its own inbox, which a
// leaf remote bound to the system account carries to the hub. The lookup
// runs on an auth worker (the authenticator's Fetcher): the worker waits
// for the answer, stores it, installs the new authenticator, and the
// connection's check is made again against it.

// The subjects, as nats-server's events.go names them.
const (
	claimsUpdate    = "$SYS.REQ.CLAIMS.UPDATE"
	claimsList      = "$SYS.REQ.CLAIMS.LIST"
	claimsDelete    = "$SYS.REQ.CLAIMS.DELETE"
	claimsAccUpdate = "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE"
	claimsAccLookup = "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP"
	claimsOldUpdate = "$SYS.ACCOUNT.*.CLAIMS.UPDATE"
	claimsPack      = "$SYS.REQ.CLAIMS.PACK"
	sysInboxPrefix  = "$SYS._INBOX."
)

// defaultFetchTimeout is nats-server's DEFAULT_ACCOUNT_FETCH_TIMEOUT.
const defaultFetchTimeout = 1900 * time.Millisecond

// defaultSyncInterval is how often a full resolver compares its JWTs with
// its peers' when interval is not set, as nats-server's.
const defaultSyncInterval = time.Minute

// claimsQueue bounds the requests waiting for the resolver goroutine.
const claimsQueue = 1024

// claimReq is one request copied off a loop.
type claimReq struct {
	subject string
	reply   string
	msg     []byte // the payload, headers removed
}

// resolverState is a server's full or cache resolver.
type resolverState struct {
	srv         *Server
	kind        string // "FULL" or "CACHE"
	store       *auth.DirStore
	allowDelete bool
	timeout     time.Duration
	interval    time.Duration // FULL: how often to compare with the peers
	inbox       string        // "$SYS._INBOX.<hash>.": where lookup answers come
	packInbox   string        // where the peers' packs come

	reqs chan claimReq
	stop chan struct{}
	wg   sync.WaitGroup

	// applied is what the authenticator in force was built from, so that
	// an update checks again only the connections of accounts whose JWT
	// changed. Guarded by the server's reloadMu (set in New before).
	applied map[string]string

	mu       sync.Mutex
	waiting  map[string]chan []byte // guarded by mu: lookups by reply subject
	inflight map[string]*flight     // guarded by mu: lookups by account
}

// flight is one lookup of an account, which every check that needs the
// account while it runs waits for instead of asking again.
type flight struct {
	done chan struct{}
	err  error
}

// openResolver opens the resolver's store in operator mode: a directory
// for FULL and CACHE, memory for MEMORY; nil without operator mode.
func openResolver(opts *conf.Options) (*resolverState, []string, error) {
	if len(opts.TrustedOperators) == 0 && len(opts.TrustedKeys) == 0 {
		// Accounts come from the configuration: no resolver is used.
		return nil, nil, nil
	}
	var st *auth.DirStore
	var warnings []string
	cache := opts.Resolver == "CACHE"
	switch {
	case opts.Resolver == "FULL" || cache:
		limit := opts.ResolverLimit
		if cache && limit <= 0 {
			limit = auth.DefaultCacheLimit
		}
		var err error
		st, warnings, err = auth.OpenDirStore(opts.ResolverDir, limit, cache, opts.ResolverHardDelete || cache, opts.ResolverTTL)
		if err != nil {
			return nil, nil, fmt.Errorf("loop: resolver dir: %w", err)
		}
	default:
		st = auth.NewMemStore()
	}
	// Preloaded accounts go into the store, as nats-server stores them,
	// unless it holds a newer JWT of theirs: LIST and LOOKUP show them.
	for k, v := range opts.ResolverPreload {
		if _, err := st.Save(k, strings.TrimSpace(v)); err != nil && st.Dir() != "" {
			// (The memory resolver's preloads are checked, and
			// warned about, by the authenticator.)
			warnings = append(warnings, fmt.Sprintf("DirResolver - preloaded account %s not stored: %v", k, err))
		}
	}
	kind := opts.Resolver
	if kind != "FULL" && kind != "CACHE" {
		kind = "MEMORY"
	}
	r := &resolverState{kind: kind, store: st, allowDelete: opts.ResolverAllowDelete || cache,
		timeout: opts.ResolverTimeout, reqs: make(chan claimReq, claimsQueue), stop: make(chan struct{}),
		waiting: make(map[string]chan []byte), inflight: make(map[string]*flight)}
	if r.timeout <= 0 {
		r.timeout = defaultFetchTimeout
	}
	r.interval = opts.ResolverInterval
	if r.interval <= 0 {
		r.interval = defaultSyncInterval
	}
	return r, warnings, nil
}

// newAuth builds the authenticator for opts: with a directory resolver,
// from its store too (the JWTs it used are returned), looking unknown
// accounts up through the system account.
func (s *Server) newAuth(opts *conf.Options) (*auth.Authenticator, map[string]string, error) {
	if s.res == nil {
		a, err := auth.New(opts)
		return a, nil, err
	}
	jwts := s.res.store.All()
	fetch := s.res.fetch
	if s.res.kind == "MEMORY" {
		fetch = nil
	}
	a, err := auth.NewResolved(opts, jwts, fetch)
	return a, jwts, err
}

// changedAccounts lists the accounts whose JWT differs between two sets.
func changedAccounts(before, after map[string]string) map[string]bool {
	out := make(map[string]bool)
	for k, v := range after {
		if before[k] != v {
			out[k] = true
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out[k] = true
		}
	}
	return out
}

// setupResolver subscribes the resolver's services in the system account.
// It runs in New, after setupSystem, before any connection: leaf links
// learn these subscriptions when they are established.
func (s *Server) setupResolver() {
	r := s.res
	if r == nil {
		return
	}
	r.srv = s
	if s.sys == nil {
		s.log.Warnf("The %s resolver needs a system account to serve and look up accounts", strings.ToLower(r.kind))
		return
	}
	h := sha256.Sum256([]byte(s.id))
	r.inbox = sysInboxPrefix + base64.RawURLEncoding.EncodeToString(h[:])[:8] + "."
	r.packInbox = r.inbox + nuid.Next()
	// A cache, as nats-server's, neither answers lookups nor takes part
	// in the pack exchange; the memory resolver only takes updates of the
	// accounts it knows.
	subjects := []string{claimsAccUpdate, claimsOldUpdate}
	switch r.kind {
	case "FULL":
		subjects = append(subjects, claimsUpdate, claimsList, claimsDelete, r.inbox+"*", claimsAccLookup, claimsPack)
	case "CACHE":
		subjects = append(subjects, claimsUpdate, claimsList, claimsDelete, r.inbox+"*")
	}
	for _, subj := range subjects {
		if _, err := s.subscribeInternalAs(s.sys.acc, subj, r.deliver, true); err != nil {
			s.log.Errorf("Error setting up resolver handling of %s: %v", subj, err)
		}
	}
	r.wg.Add(1)
	go r.run()
	if r.kind != "MEMORY" {
		s.log.Noticef("Managing %s jwt in exclusive directory %s", map[string]string{"FULL": "all", "CACHE": "some"}[r.kind], r.store.Dir())
	}
}

// stopResolver ends the resolver goroutine.
func (s *Server) stopResolver() {
	r := s.res
	if r == nil || r.srv == nil {
		return
	}
	select {
	case <-r.stop:
		return
	default:
	}
	close(r.stop)
	r.wg.Wait()
}

// deliver is the resolver's internal subscription callback, on the
// publisher's loop: a lookup's answer goes to the worker waiting for it,
// anything else to the resolver goroutine. It never blocks.
func (r *resolverState) deliver(_ *worker, _ *client, _ *subscription, subject, reply []byte, hdr int, msg []byte) int {
	payload := msg[min(hdr, len(msg)):]
	if strings.HasPrefix(string(subject), r.inbox) && string(subject) != r.packInbox {
		r.mu.Lock()
		ch := r.waiting[string(subject)]
		r.mu.Unlock()
		if ch != nil {
			select {
			case ch <- append([]byte(nil), payload...):
			default:
			}
		}
		return 1
	}
	select {
	case r.reqs <- claimReq{subject: string(subject), reply: string(reply), msg: append([]byte(nil), payload...)}:
	default:
	}
	return 1
}

// run is the resolver goroutine.
func (r *resolverState) run() {
	defer r.wg.Done()
	var tick <-chan time.Time
	if r.kind == "FULL" {
		t := time.NewTicker(r.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-r.stop:
			return
		case q := <-r.reqs:
			r.serve(&q)
		case <-tick:
			// Ask the peers for what we lack: those whose set differs
			// answer with theirs (nats-server's pack exchange).
			h := r.store.Hash()
			r.srv.publishInternal(r.srv.sys.acc, claimsPack, r.packInbox, 0, h[:])
		}
	}
}

// pack answers a peer's $SYS.REQ.CLAIMS.PACK: nothing but the closing
// empty message when its hash is ours, else every JWT, one "key|jwt" per
// message, then the empty message.
func (r *resolverState) pack(q *claimReq) {
	if q.reply == "" {
		return
	}
	s := r.srv
	if h := r.store.Hash(); string(h[:]) != string(q.msg) {
		all := r.store.All()
		for _, k := range r.store.List() {
			if tok, ok := all[k]; ok {
				s.publishInternal(s.sys.acc, q.reply, "", 0, []byte(k+"|"+tok))
			}
		}
	}
	s.publishInternal(s.sys.acc, q.reply, "", 0, nil)
}

// merge takes what a peer's pack holds that is newer than ours. Unlike
// nats-server's, it keeps only JWTs a trusted operator signed.
func (r *resolverState) merge(q *claimReq) {
	if len(q.msg) == 0 {
		return
	}
	authn := r.srv.currentAuth()
	changed := false
	for _, line := range strings.Split(string(q.msg), "\n") {
		if line == "" {
			continue
		}
		key, tok, ok := strings.Cut(line, "|")
		if !ok || !nkeys.IsValidPublicAccountKey(key) {
			r.srv.log.Errorf("DirResolver - Merging resulted in error: malformed pack line")
			return
		}
		ac, err := authn.CheckAccountJWT(tok)
		if err == nil && ac.Subject != key {
			err = errors.New("subject does not match jwt content")
		}
		if err != nil {
			r.srv.log.Errorf("DirResolver - Merging %s resulted in error: %v", key, err)
			continue
		}
		c, err := r.store.Save(key, tok)
		if err != nil {
			r.srv.log.Errorf("DirResolver - Merging %s resulted in error: %v", key, err)
			continue
		}
		changed = changed || c
	}
	if changed {
		if err := r.srv.applyResolver(); err != nil {
			r.srv.log.Errorf("DirResolver - Merging resulted in error: %v", err)
		}
	}
}

// claimStatus and claimError are nats-server's ClaimUpdateStatus and
// ClaimUpdateError.
type claimStatus struct {
	Account string `json:"account,omitempty"`
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type claimError struct {
	Account     string `json:"account,omitempty"`
	Code        int    `json:"code"`
	Description string `json:"description,omitempty"`
}

// claimResponse is nats-server's ServerAPIClaimUpdateResponse.
type claimResponse struct {
	Server *serverInfo  `json:"server"`
	Data   *claimStatus `json:"data,omitempty"`
	Error  *claimError  `json:"error,omitempty"`
}

// serve handles one request on the resolver goroutine.
func (r *resolverState) serve(q *claimReq) {
	subj := q.subject
	switch {
	case subj == r.packInbox:
		r.merge(q)
	case subj == claimsPack:
		r.pack(q)
	case subj == claimsList:
		if q.reply == "" {
			return
		}
		r.srv.sys.send(r.srv.sys.acc, q.reply, map[string]any{"server": r.srv.sys.info(), "data": r.store.List()})
	case subj == claimsDelete:
		r.delete(q)
	case subj == claimsUpdate:
		r.update(q, "")
	case strings.HasSuffix(subj, ".CLAIMS.LOOKUP"):
		if q.reply == "" {
			return
		}
		key := accountToken(subj)
		// An empty answer says this server does not have it.
		r.srv.publishInternal(r.srv.sys.acc, q.reply, "", 0, []byte(r.store.Get(key)))
	case strings.HasSuffix(subj, ".CLAIMS.UPDATE"):
		key := accountToken(subj)
		if key == "" {
			return
		}
		r.update(q, key)
	}
}

// accountToken is the account of $SYS.REQ.ACCOUNT.<acc>.CLAIMS.X or
// $SYS.ACCOUNT.<acc>.CLAIMS.UPDATE.
func accountToken(subj string) string {
	tk := strings.Split(subj, ".")
	switch {
	case len(tk) == 6 && tk[1] == "REQ":
		return tk[3]
	case len(tk) == 5:
		return tk[2]
	}
	return ""
}

// respond answers an update or delete in nats-server's envelope and logs
// the outcome as it does.
func (r *resolverState) respond(reply, acc, message string, err error) {
	s := r.srv
	switch {
	case err == nil && acc == "":
		s.log.Debugf("%s", message)
	case err == nil:
		s.log.Debugf("%s - %s", message, acc)
	case acc == "":
		s.log.Errorf("%s - %s", message, err)
	default:
		s.log.Errorf("%s - %s - %s", message, acc, err)
	}
	if reply == "" {
		return
	}
	resp := &claimResponse{Server: s.sys.info()}
	if err == nil {
		resp.Data = &claimStatus{Account: acc, Code: http.StatusOK, Message: message}
	} else {
		resp.Error = &claimError{Account: acc, Code: http.StatusInternalServerError,
			Description: fmt.Sprintf("%s - %v", message, err)}
	}
	s.sys.send(s.sys.acc, reply, resp)
}

// currentAuth is the authenticator in force, read off the loops.
func (s *Server) currentAuth() *auth.Authenticator {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth
}

// update stores a pushed account JWT (key: the account the subject names,
// "" for $SYS.REQ.CLAIMS.UPDATE) and applies it.
//
// A cache takes only updates of the accounts it knows, and words its
// answers as nats-server's cache does ("jwt updated cache", "jwt update
// cache skipped").
func (r *resolverState) update(q *claimReq, key string) {
	cache := r.kind == "CACHE"
	words := func(full, cached string) string {
		if cache {
			return cached
		}
		return full
	}
	failed := words("jwt update resulted in error", "jwt update cache resulted in error")
	tok := strings.TrimSpace(string(q.msg))
	if r.kind == "MEMORY" && tok == "" {
		r.respond(q.reply, key, "jwt update error", errors.New("request body is empty"))
		return
	}
	authn := r.srv.currentAuth()
	ac, err := authn.CheckAccountJWT(tok)
	acc := "n/a"
	if key != "" {
		acc = key
	}
	if ac != nil {
		acc = ac.Subject
	}
	var verr *auth.ValidationError
	switch {
	case err != nil && !errors.As(err, &verr):
		r.respond(q.reply, acc, failed, err)
		return
	case key != "" && ac.Subject != key:
		r.respond(q.reply, key, failed, errors.New("subject does not match jwt content"))
		return
	}
	if _, known := authn.LookupAccount(acc); r.kind != "FULL" && !known {
		r.respond(q.reply, acc, words("jwt update skipped", "jwt update cache skipped"), nil)
		return
	}
	if err != nil {
		r.respond(q.reply, acc, words("jwt validation failed", "jwt update cache validation failed"), err)
		return
	}
	changed, err := r.store.Save(ac.Subject, tok)
	if err != nil {
		r.respond(q.reply, acc, failed, err)
		return
	}
	if changed {
		if err := r.srv.applyResolver(); err != nil {
			r.respond(q.reply, acc, failed, err)
			return
		}
	}
	r.respond(q.reply, acc, words("jwt updated", "jwt updated cache"), nil)
}

// delete handles $SYS.REQ.CLAIMS.DELETE: a generic JWT the operator signs
// itself, whose "accounts" lists the keys to remove.
func (r *resolverState) delete(q *claimReq) {
	var subj string
	var ids []string
	gk, err := jwt.DecodeGeneric(strings.TrimSpace(string(q.msg)))
	if err == nil {
		subj = gk.Subject
		err = r.checkDelete(gk, &ids)
	}
	if err != nil {
		r.respond(q.reply, "", fmt.Sprintf("delete accounts request by %s failed", subj), err)
		return
	}
	var errs []string
	n := 0
	for _, id := range ids {
		if err := r.store.Delete(id); err != nil {
			errs = append(errs, err.Error())
		} else {
			n++
		}
	}
	if err := r.srv.applyResolver(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) == 0 {
		r.respond(q.reply, "", fmt.Sprintf("deleted %d accounts", n), nil)
		return
	}
	r.respond(q.reply, "", fmt.Sprintf("deleted %d accounts, failed for %d", n, len(errs)), errors.New(strings.Join(errs, "\n")))
}

// checkDelete applies nats-server's rules to a delete request.
func (r *resolverState) checkDelete(gk *jwt.GenericClaims, ids *[]string) error {
	switch {
	case !r.allowDelete:
		return errors.New("delete must be enabled in server config")
	case gk.Subject != gk.Issuer:
		return errors.New("not self signed")
	case !r.srv.currentAuth().OperatorKey(gk.Issuer):
		return errors.New("not trusted")
	}
	list, ok := gk.Data["accounts"].([]any)
	if !ok {
		return errors.New("malformed request")
	}
	sys := r.srv.currentAuth().SystemAccount()
	for _, e := range list {
		id, ok := e.(string)
		if !ok || !nkeys.IsValidPublicAccountKey(id) {
			return errors.New("malformed request")
		}
		if id == sys {
			return errors.New("not allowed to delete system account")
		}
		*ids = append(*ids, id)
	}
	return nil
}

// fetch is the authenticators' Fetcher: it runs on an auth worker and
// waits for another server to answer a lookup of account key through the
// system account, then stores and applies the JWT. Checks that need the
// same account meanwhile wait for the same lookup.
func (r *resolverState) fetch(key string) error {
	s := r.srv
	if s == nil || s.sys == nil || r.inbox == "" {
		return errors.New("eventing shut down")
	}
	if _, ok := s.currentAuth().LookupAccount(key); ok {
		// Installed since the check began: it is made again.
		return nil
	}
	r.mu.Lock()
	if f := r.inflight[key]; f != nil {
		r.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-r.stop:
			return errors.New("fetching jwt failed due to shutdown")
		}
	}
	f := &flight{done: make(chan struct{})}
	r.inflight[key] = f
	r.mu.Unlock()
	f.err = r.lookup(key)
	r.mu.Lock()
	delete(r.inflight, key)
	r.mu.Unlock()
	close(f.done)
	return f.err
}

// lookup asks the other servers for account key and installs the answer.
func (r *resolverState) lookup(key string) error {
	s := r.srv
	reply := r.inbox + nuid.Next()
	ch := make(chan []byte, 4)
	r.mu.Lock()
	r.waiting[reply] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, reply)
		r.mu.Unlock()
	}()
	s.publishInternal(s.sys.acc, "$SYS.REQ.ACCOUNT."+key+".CLAIMS.LOOKUP", reply, 0, nil)
	timer := time.NewTimer(r.timeout)
	defer timer.Stop()
	empty := false
	for {
		select {
		case <-r.stop:
			return errors.New("fetching jwt failed due to shutdown")
		case <-timer.C:
			if empty {
				return errors.New("account jwt not found")
			}
			return errors.New("fetching jwt timed out")
		case m := <-ch:
			if len(m) == 0 {
				// Another server lacks it; one that has it may still answer.
				empty = true
				continue
			}
			return r.took(key, strings.TrimSpace(string(m)))
		}
	}
}

// took stores a JWT a lookup brought and installs it.
func (r *resolverState) took(key, tok string) error {
	ac, err := r.srv.currentAuth().CheckAccountJWT(tok)
	if err != nil {
		return err
	}
	if ac.Subject != key {
		return errors.New("subject does not match jwt content")
	}
	if _, err := r.store.Save(key, tok); err != nil {
		return err
	}
	return r.srv.applyResolver()
}

// applyResolver installs an authenticator built from the store as it is
// now, and checks every connection again against it. It runs on the
// resolver goroutine or an auth worker, never on a loop, one at a time
// with configuration reloads.
func (s *Server) applyResolver() error {
	s.ops.reloadMu.Lock()
	defer s.ops.reloadMu.Unlock()
	opts := s.Options()
	authn, jwts, err := s.newAuth(opts)
	if err != nil {
		return err
	}
	changed := changedAccounts(s.res.applied, jwts)
	for _, w := range authn.Warnings() {
		s.log.Warnf("%s", w)
	}
	s.mu.Lock()
	running := s.running && !s.shutdown.Load()
	s.mu.Unlock()
	for _, info := range authn.Accounts() {
		s.registerAccount(info.Name)
	}
	if !running {
		s.mu.Lock()
		s.auth = authn
		for _, info := range authn.Accounts() {
			s.accounts[info.Name].info = info
		}
		s.mu.Unlock()
		s.res.applied = jwts
		s.rewireImports()
		return nil
	}
	snaps, err := s.swapConfig(opts, authn)
	if err != nil {
		return err
	}
	s.res.applied = jwts
	s.rewireImports()
	s.recheckConnections(snaps, authn, opts, changed)
	return nil
}

// rewireImports wires again the imports of every account whose imports
// changed.
func (s *Server) rewireImports() {
	for _, a := range s.sortedAccounts() {
		s.wireImports(a)
	}
}
