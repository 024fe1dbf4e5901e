package loop_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/canopy-nats/canopy/internal/natstest"
)

// Directory resolvers: the full resolver that nsc push updates through
// $SYS.REQ.CLAIMS.*, and the cache resolver that looks accounts up
// through a leaf link bound to the system account. Keys and JWTs are made
// as nsc makes them; each server gets its own directory.

// resolverConfig is tr's configuration with a resolver block instead of
// MEMORY; only the system account is preloaded.
func (tr *trust) resolverConfig(t testing.TB, block string) string {
	t.Helper()
	return fmt.Sprintf("operator: %q\nsystem_account: %s\nresolver: %s\nresolver_preload: {\n  %s: %q\n}\n",
		tr.operatorJWT(t), tr.sysPub, block, tr.sysPub, tr.preload[tr.sysPub])
}

// withDirs runs fn against Canopy and nats-server as servers does, each
// started from the configuration mk makes for a directory of its own.
// start starts one more server of the same kind (a restart on the same
// directory, the first still running for nats-server).
func withDirs(t *testing.T, mk func(dir string) string, fn func(t *testing.T, dir string, start func() string)) {
	t.Helper()
	t.Run("canopy", func(t *testing.T) {
		dir := t.TempDir()
		var cur *natstest.Canopy
		fn(t, dir, func() string {
			if cur != nil {
				cur.Stop(t)
			}
			cur = natstest.StartCanopy(t, mk(dir))
			return cur.ClientURL()
		})
	})
	t.Run("nats-server", func(t *testing.T) {
		dir := t.TempDir()
		fn(t, dir, func() string {
			return "nats://" + natstest.StartNATS(t, mk(dir)).Addr().String()
		})
	})
}

// claimReply is nats-server's ServerAPIClaimUpdateResponse, as a client
// reads it.
type claimReply struct {
	Server map[string]any `json:"server"`
	Data   *struct {
		Account string `json:"account"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"data"`
	Error *struct {
		Account     string `json:"account"`
		Code        int    `json:"code"`
		Description string `json:"description"`
	} `json:"error"`
}

func request(t testing.TB, nc *nats.Conn, subject string, data []byte) []byte {
	t.Helper()
	m, err := nc.Request(subject, data, 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return m.Data
}

func claimRequest(t testing.TB, nc *nats.Conn, subject, tok string) *claimReply {
	t.Helper()
	var r claimReply
	b := request(t, nc, subject, []byte(tok))
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s answered %q: %v", subject, b, err)
	}
	if r.Server["id"] == nil || r.Server["name"] == nil {
		t.Errorf("%s answer lacks the server identity: %s", subject, b)
	}
	return &r
}

// pushOK pushes an account JWT as nsc push does and checks the first
// answer: "jwt updated" from a full resolver, or one of messages.
func pushOK(t testing.TB, nc *nats.Conn, subject, pub, tok string, messages ...string) {
	t.Helper()
	r := claimRequest(t, nc, subject, tok)
	if r.Error != nil || r.Data == nil || r.Data.Account != pub || r.Data.Code != 200 ||
		!slices.Contains(append(messages, "jwt updated"), r.Data.Message) {
		t.Fatalf("push to %s: data %+v error %+v", subject, r.Data, r.Error)
	}
}

// TestResolverFullPush: an nsc-style push to a full resolver admits the
// account's users, a later push revoking one closes it with nats-server's
// -ERR and a tightened payload limit takes effect on a connected client;
// LOOKUP returns the JWT pushed last, LIST names the accounts, a push not
// signed by the operator and a DELETE without allow_delete are refused in
// nats-server's words, and the JWT is found in dir again after a restart.
func TestResolverFullPush(t *testing.T) {
	tr := newTrust(t)
	sysUser := newUser(t, tr.sys, tr.sysPub, nil)
	akp, apub := tr.account(t, "A", nil)
	first := tr.preload[apub]
	delete(tr.preload, apub)
	stays := newUser(t, akp, apub, nil)
	goes := newUser(t, akp, apub, nil)
	// The account signed again, a second later: a JWT's jti hashes only
	// its iat (whole seconds), subject, issuer and name, and a store takes
	// a JWT whose jti it has as the one it has, as nats-server's does. One
	// user revoked, payloads limited to 100 bytes.
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 0)))
	second := signAccount(t, apub, "A", func(ac *jwt.AccountClaims) {
		ac.RevokeAt(goes.pub, time.Now())
		ac.Limits.Payload = 100
	}, tr.op)
	rogue := newKey(t, nkeys.CreateOperator)

	mk := func(dir string) string {
		return tr.resolverConfig(t, fmt.Sprintf("{ type: full, dir: %q, timeout: \"200ms\" }", dir))
	}
	withDirs(t, mk, func(t *testing.T, dir string, start func() string) {
		url := start()
		sys := connect(t, url, sysUser.creds(t))
		refused(t, "user of an account not pushed yet", url, stays.creds(t))

		pushOK(t, sys, "$SYS.REQ.CLAIMS.UPDATE", apub, first)
		if _, err := os.Stat(filepath.Join(dir, apub+".jwt")); err != nil {
			t.Errorf("pushed JWT not in dir: %v", err)
		}
		nc := connect(t, url, stays.creds(t))
		sub, err := nc.SubscribeSync("big")
		if err != nil {
			t.Fatal(err)
		}
		flush(t, nc)
		victim := watched(t, url, goes.creds(t))

		// A push signed by another operator: nats-server stores it (and
		// logs that the account update failed); Canopy refuses it.
		r := claimRequest(t, sys, "$SYS.REQ.ACCOUNT."+apub+".CLAIMS.UPDATE",
			signAccount(t, apub, "A", nil, rogue))
		if strings.HasPrefix(t.Name(), "TestResolverFullPush/canopy") &&
			(r.Error == nil || r.Error.Code != 500 || r.Error.Description != "jwt update resulted in error - not trusted") {
			t.Errorf("untrusted push: data %+v error %+v", r.Data, r.Error)
		}

		pushOK(t, sys, "$SYS.REQ.ACCOUNT."+apub+".CLAIMS.UPDATE", apub, second)
		victim.closedWith(t, "authentication revoked") // nats.ErrAuthRevoked
		if !nc.IsConnected() {
			t.Fatal("a user the update did not revoke was closed")
		}
		// The tightened limit: the server refuses a payload over it.
		pubErr := make(chan error, 1)
		nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case pubErr <- err:
			default:
			}
		})
		_ = nc.Publish("big", make([]byte, 200))
		_ = nc.Flush()
		natstest.WaitFor(t, 5*time.Second, "the over-limit publish refused", func() bool {
			select {
			case err := <-pubErr:
				return errors.Is(err, nats.ErrMaxPayload) || strings.Contains(strings.ToLower(err.Error()), "maximum payload")
			default:
				return !nc.IsConnected() && strings.Contains(strings.ToLower(fmt.Sprint(nc.LastError())), "maximum payload")
			}
		})
		if _, err := sub.NextMsg(50 * time.Millisecond); err == nil {
			t.Error("a payload over the new limit was delivered")
		}

		if got := string(request(t, sys, "$SYS.REQ.ACCOUNT."+apub+".CLAIMS.LOOKUP", nil)); got != second {
			t.Errorf("LOOKUP answered %.40q..., want the JWT pushed last", got)
		}
		var list struct {
			Data []string `json:"data"`
		}
		if err := json.Unmarshal(request(t, sys, "$SYS.REQ.CLAIMS.LIST", nil), &list); err != nil {
			t.Fatal(err)
		}
		slices.Sort(list.Data)
		want := []string{apub, tr.sysPub}
		slices.Sort(want)
		if !slices.Equal(list.Data, want) {
			t.Errorf("LIST = %v, want %v", list.Data, want)
		}

		del := jwt.NewGenericClaims(pubKey(t, tr.op))
		del.Data["accounts"] = []any{apub}
		delTok, err := del.Encode(tr.op)
		if err != nil {
			t.Fatal(err)
		}
		r = claimRequest(t, sys, "$SYS.REQ.CLAIMS.DELETE", delTok)
		wantErr := "delete accounts request by " + pubKey(t, tr.op) + " failed - delete must be enabled in server config"
		if r.Error == nil || r.Error.Code != 500 || r.Error.Description != wantErr {
			t.Errorf("DELETE: data %+v error %+v, want %q", r.Data, r.Error, wantErr)
		}

		// Restarted on the same directory, the server knows the account.
		url = start()
		accepted(t, "user of a stored account after a restart", url, stays.creds(t))
		refused(t, "revoked user after a restart", url, goes.creds(t))
		sys = connect(t, url, sysUser.creds(t))
		if got := string(request(t, sys, "$SYS.REQ.ACCOUNT."+apub+".CLAIMS.LOOKUP", nil)); got != second {
			t.Errorf("LOOKUP after a restart answered %.40q..., want the JWT pushed last", got)
		}
	})
}

// TestResolverDelete: with allow_delete, a DELETE signed by the operator
// removes the account: its users get -ERR 'Account Authentication
// Expired' and are closed, and are refused afterwards; its file is
// renamed.
func TestResolverDelete(t *testing.T) {
	tr := newTrust(t)
	sysUser := newUser(t, tr.sys, tr.sysPub, nil)
	akp, apub := tr.account(t, "A", nil)
	u := newUser(t, akp, apub, nil)
	mk := func(dir string) string {
		return tr.resolverConfig(t, fmt.Sprintf("{ type: full, dir: %q, allow_delete: true, timeout: \"200ms\" }", dir))
	}
	withDirs(t, mk, func(t *testing.T, dir string, start func() string) {
		url := start()
		sys := connect(t, url, sysUser.creds(t))
		pushOK(t, sys, "$SYS.REQ.CLAIMS.UPDATE", apub, tr.preload[apub])
		victim := watched(t, url, u.creds(t))

		del := jwt.NewGenericClaims(pubKey(t, tr.op))
		del.Data["accounts"] = []any{apub}
		delTok, err := del.Encode(tr.op)
		if err != nil {
			t.Fatal(err)
		}
		r := claimRequest(t, sys, "$SYS.REQ.CLAIMS.DELETE", delTok)
		if r.Error != nil || r.Data == nil || r.Data.Message != "deleted 1 accounts" || r.Data.Code != 200 {
			t.Fatalf("DELETE: data %+v error %+v", r.Data, r.Error)
		}
		victim.closedWith(t, "account authentication expired")
		refused(t, "user of a deleted account", url, u.creds(t))
		if _, err := os.Stat(filepath.Join(dir, apub+".jwt.deleted")); err != nil {
			t.Errorf("deleted JWT not renamed: %v", err)
		}
	})
}

// TestResolverCacheLeaf: a Canopy edge with a cache resolver and a leaf
// remote bound to the system account admits a user of an account only the
// hub (full resolver; nats-server, then Canopy) knows, once the JWT
// arrives through the link; it keeps the JWT in its dir; a user of an
// account nobody knows is refused when the lookup times out; an update
// pushed to the hub revokes a user connected to the edge. A nats-server
// edge on a Canopy hub does the same: Canopy's LOOKUP answers it.
func TestResolverCacheLeaf(t *testing.T) {
	tr := newTrust(t)
	fx := &cacheFixture{tr: tr, sysUser: newUser(t, tr.sys, tr.sysPub, nil)}
	var akp nkeys.KeyPair
	akp, fx.apub = tr.account(t, "A", nil)
	fx.u = newUser(t, akp, fx.apub, nil)
	fx.goes = newUser(t, akp, fx.apub, nil)
	bkp := newKey(t, nkeys.CreateAccount)
	fx.stranger = newUser(t, bkp, pubKey(t, bkp), nil)
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 0))) // a later jti, see TestResolverFullPush
	fx.revoking = signAccount(t, fx.apub, "A", func(ac *jwt.AccountClaims) { ac.RevokeAt(fx.goes.pub, time.Now()) }, tr.op)
	for _, k := range []struct{ hub, edge string }{{"nats-server", "canopy"}, {"canopy", "canopy"}, {"canopy", "nats-server"}} {
		t.Run("hub "+k.hub+" edge "+k.edge, func(t *testing.T) { cacheLeaf(t, k.hub, k.edge, fx) })
	}
}

// cacheFixture is what every pairing of TestResolverCacheLeaf uses: an
// account A only the hub knows, its users (goes is revoked by the update
// revoking), and a user of an account nobody knows.
type cacheFixture struct {
	tr               *trust
	sysUser, u, goes *user
	stranger         *user
	apub             string
	revoking         string
}

func cacheLeaf(t *testing.T, hubKind, edgeKind string, fx *cacheFixture) {
	tr, sysUser, apub, u, stranger := fx.tr, fx.sysUser, fx.apub, fx.u, fx.stranger
	edgeDir := t.TempDir()
	hubClients, edgeURL := sysLeafPair(t, tr, sysUser, hubKind, edgeKind,
		fmt.Sprintf("{ type: full, dir: %q }", t.TempDir()), map[string]string{apub: tr.preload[apub]},
		fmt.Sprintf("{ type: cache, dir: %q, timeout: \"500ms\" }", edgeDir))

	// The hub's lookup subscription must have reached the edge before the
	// edge can ask: a request through the link is the signal.
	sys := connect(t, edgeURL, sysUser.creds(t))
	natstest.WaitFor(t, 10*time.Second, "the hub's LOOKUP interest", func() bool {
		m, err := sys.Request("$SYS.REQ.ACCOUNT."+apub+".CLAIMS.LOOKUP", nil, 200*time.Millisecond)
		return err == nil && len(m.Data) > 0
	})

	// Several clients of the account at once: one lookup serves them all.
	creds := u.creds(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			nc, err := nats.Connect(edgeURL, creds, nats.NoReconnect())
			if err == nil {
				err = nc.Flush()
				nc.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("user of an account only the hub knows: %v", err)
		}
	}
	nc := accepted(t, "user of an account only the hub knows", edgeURL, creds)
	sub, err := nc.SubscribeSync("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("x", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); string(m.Data) != "hi" {
		t.Errorf("got %q", m.Data)
	}
	if b, err := os.ReadFile(filepath.Join(edgeDir, apub+".jwt")); err != nil || string(b) != tr.preload[apub] {
		t.Errorf("cached JWT: %v (%d bytes)", err, len(b))
	}
	refused(t, "user of an account nobody knows", edgeURL, stranger.creds(t))

	// An update pushed to the hub reaches the edge's cached copy through
	// the link: the user it revokes is closed there.
	victim := watched(t, edgeURL, fx.goes.creds(t))
	// The first answer may be the edge's, in a cache's words.
	pushOK(t, connect(t, hubClients, sysUser.creds(t)), "$SYS.REQ.ACCOUNT."+apub+".CLAIMS.UPDATE", apub, fx.revoking, "jwt updated cache")
	victim.closedWith(t, "authentication revoked")
	roundTrip(t, nc)
}

// TestResolverAccountUpdate: pushed updates reach connected clients: an
// import added to B delivers A's export to a subscriber of B that was
// already there, B's connection limit lowered to one closes its newer
// client with nats-server's -ERR, removing A's signing key closes its user
// (without an -ERR, as nats-server does) and leaves the account key's user
// alone.
func TestResolverAccountUpdate(t *testing.T) {
	tr := newTrust(t)
	sysUser := newUser(t, tr.sys, tr.sysPub, nil)
	sk := newKey(t, nkeys.CreateAccount)
	akp, apub := tr.account(t, "A", func(ac *jwt.AccountClaims) {
		ac.SigningKeys.Add(pubKey(t, sk))
		ac.Exports.Add(&jwt.Export{Subject: "news.>", Type: jwt.Stream})
	})
	bkp, bpub := tr.account(t, "B", nil)
	aFirst, bFirst := tr.preload[apub], tr.preload[bpub]
	delete(tr.preload, apub)
	delete(tr.preload, bpub)
	byKey := newUser(t, akp, apub, nil)
	bySK := newUser(t, sk, apub, nil)
	reader := newUser(t, bkp, bpub, nil)
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 0))) // a later jti, see TestResolverFullPush
	aSecond := signAccount(t, apub, "A", func(ac *jwt.AccountClaims) {
		ac.Exports.Add(&jwt.Export{Subject: "news.>", Type: jwt.Stream})
	}, tr.op)
	bSecond := signAccount(t, bpub, "B", func(ac *jwt.AccountClaims) {
		ac.Imports.Add(&jwt.Import{Account: apub, Subject: "news.>", Type: jwt.Stream})
		ac.Limits.Conn = 1
	}, tr.op)

	mk := func(dir string) string {
		return tr.resolverConfig(t, fmt.Sprintf("{ type: full, dir: %q, timeout: \"200ms\" }", dir))
	}
	withDirs(t, mk, func(t *testing.T, _ string, start func() string) {
		url := start()
		sys := connect(t, url, sysUser.creds(t))
		pushOK(t, sys, "$SYS.REQ.CLAIMS.UPDATE", apub, aFirst)
		pushOK(t, sys, "$SYS.REQ.CLAIMS.UPDATE", bpub, bFirst)
		pub := connect(t, url, byKey.creds(t))
		onClose, closed := closing()
		natstest.Connect(t, url, bySK.creds(t), nats.NoReconnect(), onClose,
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { t.Errorf("signing key user got %v", err) }))
		rd := connect(t, url, reader.creds(t))
		sub, err := rd.SubscribeSync("news.>")
		if err != nil {
			t.Fatal(err)
		}
		flush(t, rd)
		extra := watched(t, url, reader.creds(t))
		if err := pub.Publish("news.1", []byte("before")); err != nil {
			t.Fatal(err)
		}
		flush(t, pub)
		none(t, sub)

		pushOK(t, sys, "$SYS.REQ.CLAIMS.UPDATE", bpub, bSecond)
		extra.closedWith(t, "maximum account active connections exceeded")
		// The import is in place once a publish of A's gets through.
		natstest.WaitFor(t, 5*time.Second, "A's stream in B", func() bool {
			if err := pub.Publish("news.2", []byte("after")); err != nil {
				t.Fatal(err)
			}
			flush(t, pub)
			m, err := sub.NextMsg(100 * time.Millisecond)
			return err == nil && string(m.Data) == "after"
		})

		pushOK(t, sys, "$SYS.REQ.CLAIMS.UPDATE", apub, aSecond)
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("user of a removed signing key still connected")
		}
		roundTrip(t, pub)
		refused(t, "user of a removed signing key", url, bySK.creds(t))
	})
}

// watchedConn is a connection that does not reconnect, with what it was
// told before it closed.
type watchedConn struct {
	nc     *nats.Conn
	errs   chan error
	closed chan struct{}
}

func watched(t testing.TB, url string, opts ...nats.Option) *watchedConn {
	t.Helper()
	w := &watchedConn{errs: make(chan error, 8), closed: make(chan struct{})}
	w.nc = natstest.Connect(t, url, append(opts, nats.NoReconnect(),
		nats.ClosedHandler(func(*nats.Conn) { close(w.closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { w.errs <- err }))...)
	return w
}

// closedWith waits for the server to close the connection and checks the
// -ERR it sent first (nats.go reports it lower-cased, as an async error
// or as the last error).
func (w *watchedConn) closedWith(t testing.TB, want string) {
	t.Helper()
	select {
	case <-w.closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("still connected; expected to be closed with %q", want)
	}
	got := fmt.Sprint(w.nc.LastError())
	select {
	case err := <-w.errs:
		got = err.Error()
	default:
	}
	if !strings.Contains(strings.ToLower(got), want) {
		t.Errorf("closed with %q, want %q", got, want)
	}
}

// sysLeafPair starts a hub and an edge (each "canopy" or "nats-server") in
// operator mode with the given resolver blocks, the hub preloading the
// system account and hubAccounts, the edge the system account only, the
// edge's leaf remote bound to the system account with sysUser's
// credentials. It returns their client URLs once the link is up.
func sysLeafPair(t *testing.T, tr *trust, sysUser *user, hubKind, edgeKind, hubResolver string, hubAccounts map[string]string, edgeResolver string) (string, string) {
	t.Helper()
	var pre strings.Builder
	for k, v := range hubAccounts {
		fmt.Fprintf(&pre, "\n  %s: %q", k, v)
	}
	hubConf := fmt.Sprintf("operator: %q\nsystem_account: %s\nresolver: %s\nresolver_preload: {\n  %s: %q%s\n}\nleafnodes { listen: \"127.0.0.1:-1\" }\n",
		tr.operatorJWT(t), tr.sysPub, hubResolver, tr.sysPub, tr.preload[tr.sysPub], pre.String())
	var hubLeafURL, hubURL string
	var hubLeafs func() int
	if hubKind == "canopy" {
		hub := natstest.StartCanopy(t, hubConf)
		hubLeafURL, hubURL, hubLeafs = hub.LeafURL(), hub.ClientURL(), hub.NumLeafs
	} else {
		hub := natstest.StartNATS(t, hubConf)
		hubLeafURL, hubURL, hubLeafs = hub.LeafURL(), "nats://"+hub.Addr().String(), hub.NumLeafNodes
	}
	credsPath := sysUser.credsFile(t)
	edgeConf := tr.resolverConfig(t, edgeResolver) +
		fmt.Sprintf("leafnodes { reconnect: \"100ms\"\n  remotes: [ { url: %q, credentials: %q, account: %s } ] }\n",
			hubLeafURL, credsPath, tr.sysPub)
	var edgeURL string
	if edgeKind == "canopy" {
		edgeURL = natstest.StartCanopy(t, edgeConf).ClientURL()
	} else {
		edgeURL = "nats://" + natstest.StartNATS(t, edgeConf).Addr().String()
	}
	natstest.WaitFor(t, 10*time.Second, "the system account's leaf link", func() bool { return hubLeafs() == 1 })
	return hubURL, edgeURL
}

// TestResolverFullSync: two full resolvers linked through the system
// account exchange what they lack every interval ($SYS.REQ.CLAIMS.PACK):
// an account only the hub has reaches the edge's dir, and its users are
// admitted there, with Canopy and nats-server on either side.
func TestResolverFullSync(t *testing.T) {
	tr := newTrust(t)
	sysUser := newUser(t, tr.sys, tr.sysPub, nil)
	akp, apub := tr.account(t, "A", nil)
	u := newUser(t, akp, apub, nil)
	for _, k := range []struct{ hub, edge string }{{"nats-server", "canopy"}, {"canopy", "nats-server"}} {
		t.Run("hub "+k.hub+" edge "+k.edge, func(t *testing.T) {
			edgeDir := t.TempDir()
			_, edgeURL := sysLeafPair(t, tr, sysUser, k.hub, k.edge,
				fmt.Sprintf("{ type: full, dir: %q, interval: \"100ms\" }", t.TempDir()), map[string]string{apub: tr.preload[apub]},
				fmt.Sprintf("{ type: full, dir: %q, interval: \"100ms\", timeout: \"100ms\" }", edgeDir))
			natstest.WaitFor(t, 10*time.Second, "A's JWT in the edge's dir", func() bool {
				b, err := os.ReadFile(filepath.Join(edgeDir, apub+".jwt"))
				return err == nil && string(b) == tr.preload[apub]
			})
			natstest.WaitFor(t, 10*time.Second, "A known to the edge", func() bool {
				nc, err := nats.Connect(edgeURL, u.creds(t), nats.NoReconnect())
				if err == nil {
					nc.Close()
				}
				return err == nil
			})
		})
	}
}

// TestResolverCacheAnswers: a cache resolver on its own answers a push of
// an account it does not hold in nats-server's words, and lists what it
// holds.
func TestResolverCacheAnswers(t *testing.T) {
	tr := newTrust(t)
	sysUser := newUser(t, tr.sys, tr.sysPub, nil)
	_, apub := tr.account(t, "A", nil)
	mk := func(dir string) string {
		return tr.resolverConfig(t, fmt.Sprintf("{ type: cache, dir: %q, timeout: \"100ms\" }", dir))
	}
	withDirs(t, mk, func(t *testing.T, _ string, start func() string) {
		sys := connect(t, start(), sysUser.creds(t))
		r := claimRequest(t, sys, "$SYS.REQ.CLAIMS.UPDATE", tr.preload[apub])
		if r.Error != nil || r.Data == nil || r.Data.Account != apub || r.Data.Message != "jwt update cache skipped" {
			t.Errorf("push to a cache: data %+v error %+v", r.Data, r.Error)
		}
		var list struct {
			Data []string `json:"data"`
		}
		if err := json.Unmarshal(request(t, sys, "$SYS.REQ.CLAIMS.LIST", nil), &list); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(list.Data, []string{tr.sysPub}) {
			t.Errorf("LIST = %v, want the system account", list.Data)
		}
	})
}

// TestResolverDirFromNATS: the directory a nats-server full resolver
// wrote serves Canopy: an account pushed to nats-server is known to a
// Canopy started on the same directory.
func TestResolverDirFromNATS(t *testing.T) {
	tr := newTrust(t)
	sysUser := newUser(t, tr.sys, tr.sysPub, nil)
	akp, apub := tr.account(t, "A", nil)
	tok := tr.preload[apub]
	delete(tr.preload, apub)
	dir := t.TempDir()
	config := tr.resolverConfig(t, fmt.Sprintf("{ type: full, dir: %q, timeout: \"100ms\" }", dir))
	ns := natstest.StartNATS(t, config)
	pushOK(t, connect(t, "nats://"+ns.Addr().String(), sysUser.creds(t)), "$SYS.REQ.CLAIMS.UPDATE", apub, tok)

	url := natstest.StartCanopy(t, config).ClientURL()
	accepted(t, "user of an account nats-server stored", url, newUser(t, akp, apub, nil).creds(t))
	if got := string(request(t, connect(t, url, sysUser.creds(t)), "$SYS.REQ.ACCOUNT."+apub+".CLAIMS.LOOKUP", nil)); got != tok {
		t.Errorf("LOOKUP answered %.40q..., want the JWT nats-server stored", got)
	}
}

// TestResolverMemoryUpdate: the memory resolver takes an update of an
// account it knows on $SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE, which takes
// effect on connected clients; it skips accounts it does not know, refuses
// an empty body, and does not serve $SYS.REQ.CLAIMS.UPDATE, in
// nats-server's words.
func TestResolverMemoryUpdate(t *testing.T) {
	tr := newTrust(t)
	sysUser := newUser(t, tr.sys, tr.sysPub, nil)
	akp, apub := tr.account(t, "A", nil)
	goes := newUser(t, akp, apub, nil)
	bkp := newKey(t, nkeys.CreateAccount)
	bpub := pubKey(t, bkp)
	stranger := signAccount(t, bpub, "B", nil, tr.op)
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 0))) // a later jti, see TestResolverFullPush
	revoking := signAccount(t, apub, "A", func(ac *jwt.AccountClaims) { ac.RevokeAt(goes.pub, time.Now()) }, tr.op)

	servers(t, tr.config(t), func(t *testing.T, addr string) {
		url := "nats://" + addr
		sys := connect(t, url, sysUser.creds(t))
		victim := watched(t, url, goes.creds(t))
		pushOK(t, sys, "$SYS.REQ.ACCOUNT."+apub+".CLAIMS.UPDATE", apub, revoking)
		victim.closedWith(t, "authentication revoked")

		r := claimRequest(t, sys, "$SYS.REQ.ACCOUNT."+bpub+".CLAIMS.UPDATE", stranger)
		if r.Error != nil || r.Data == nil || r.Data.Account != bpub || r.Data.Message != "jwt update skipped" {
			t.Errorf("update of an unknown account: data %+v error %+v", r.Data, r.Error)
		}
		r = claimRequest(t, sys, "$SYS.REQ.ACCOUNT."+apub+".CLAIMS.UPDATE", "")
		if r.Error == nil || r.Error.Description != "jwt update error - request body is empty" {
			t.Errorf("empty update: data %+v error %+v", r.Data, r.Error)
		}
		if _, err := sys.Request("$SYS.REQ.CLAIMS.UPDATE", []byte(revoking), 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("$SYS.REQ.CLAIMS.UPDATE on a memory resolver: %v, want no responders", err)
		}
	})
}
