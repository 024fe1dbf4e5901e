package loop_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Operator (JWT) mode tests. Keys and JWTs are made with the nkeys and
// jwt libraries nats tooling uses; the configuration (operator JWT inline,
// resolver: MEMORY, resolver_preload) is given to Canopy and to nats-server
// alike, and clients connect with nats.go credentials files.

// trust is an operator with its preloaded accounts.
type trust struct {
	op      nkeys.KeyPair
	sys     nkeys.KeyPair
	sysPub  string
	preload map[string]string // account public key -> account JWT
}

func newTrust(t testing.TB) *trust {
	t.Helper()
	tr := &trust{op: newKey(t, nkeys.CreateOperator), preload: map[string]string{}}
	tr.sys, tr.sysPub = tr.account(t, "SYS", nil)
	return tr
}

func newKey(t testing.TB, create func() (nkeys.KeyPair, error)) nkeys.KeyPair {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func pubKey(t testing.TB, kp nkeys.KeyPair) string {
	t.Helper()
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// account creates an account signed by the operator, preloads it and
// returns its key pair and public key.
func (tr *trust) account(t testing.TB, name string, edit func(*jwt.AccountClaims)) (nkeys.KeyPair, string) {
	t.Helper()
	kp := newKey(t, nkeys.CreateAccount)
	pub := pubKey(t, kp)
	tr.preload[pub] = signAccount(t, pub, name, edit, tr.op)
	return kp, pub
}

func signAccount(t testing.TB, pub, name string, edit func(*jwt.AccountClaims), signer nkeys.KeyPair) string {
	t.Helper()
	ac := jwt.NewAccountClaims(pub)
	ac.Name = name
	if edit != nil {
		edit(ac)
	}
	tok, err := ac.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// operatorJWT is the operator's own JWT, naming the system account.
func (tr *trust) operatorJWT(t testing.TB) string {
	t.Helper()
	oc := jwt.NewOperatorClaims(pubKey(t, tr.op))
	oc.Name = "OP"
	oc.SystemAccount = tr.sysPub
	tok, err := oc.Encode(tr.op)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// config is the server configuration that trusts the operator, with its
// JWT inline.
func (tr *trust) config(t testing.TB) string {
	t.Helper()
	return tr.configWith(t, tr.operatorJWT(t))
}

// configWith is config with operator: set to op, a JWT or a file path.
func (tr *trust) configWith(t testing.TB, op string) string {
	t.Helper()
	keys := make([]string, 0, len(tr.preload))
	for k := range tr.preload {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "operator: %q\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: {\n", op, tr.sysPub)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %q\n", k, tr.preload[k])
	}
	b.WriteString("}\n")
	return b.String()
}

// user is a user JWT with its key pair.
type user struct {
	jwt string
	kp  nkeys.KeyPair
	pub string
}

// newUser issues a user JWT for account accPub, signed by signer (the
// account key or one of its signing keys).
func newUser(t testing.TB, signer nkeys.KeyPair, accPub string, edit func(*jwt.UserClaims)) *user {
	t.Helper()
	u := &user{kp: newKey(t, nkeys.CreateUser)}
	u.pub = pubKey(t, u.kp)
	uc := jwt.NewUserClaims(u.pub)
	uc.Name = "u"
	if pubKey(t, signer) != accPub {
		uc.IssuerAccount = accPub
	}
	if edit != nil {
		edit(uc)
	}
	tok, err := uc.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	u.jwt = tok
	return u
}

// creds writes the user's credentials file, as nsc does, and returns the
// option that connects with it.
func (u *user) creds(t testing.TB) nats.Option {
	t.Helper()
	return nats.UserCredentials(u.credsFile(t))
}

// credsFile writes the user's credentials file and returns its path.
func (u *user) credsFile(t testing.TB) string {
	t.Helper()
	seed, err := u.kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	data, err := jwt.FormatUserConfig(u.jwt, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issuerAccount is the account the user belongs to.
func (u *user) issuerAccount(t testing.TB) string {
	t.Helper()
	uc, err := jwt.DecodeUserClaims(u.jwt)
	if err != nil {
		t.Fatal(err)
	}
	if uc.IssuerAccount != "" {
		return uc.IssuerAccount
	}
	return uc.Issuer
}

// with connects with the given JWT and nonce signer instead of a file.
func with(tok string, sign nats.SignatureHandler) nats.Option {
	return nats.UserJWT(func() (string, error) { return tok, nil }, sign)
}

// rawJWT opens a raw connection and sends CONNECT with the user's JWT and
// its signature of the INFO nonce (none for a bearer token when sign is
// false), then PING, and reads the PONG.
func rawJWT(t testing.TB, addr string, u *user, sign bool) *raw {
	t.Helper()
	c := dialRaw(t, addr)
	sig := ""
	if sign {
		s, err := u.kp.Sign([]byte(infoField(t, c.info, "nonce")))
		if err != nil {
			t.Fatal(err)
		}
		sig = base64.RawURLEncoding.EncodeToString(s)
	}
	c.connect(fmt.Sprintf(`{"verbose":false,"jwt":%q,"sig":%q}`, u.jwt, sig))
	return c
}

// TestOperatorAuth: who gets in, in operator mode: users of the account
// key, of a signing key, bearer tokens; and who does not: a tampered JWT or
// nonce signature, an expired or revoked user, a user of an unknown, an
// untrusted or a bearer-refusing account, a client without a JWT.
func TestOperatorAuth(t *testing.T) {
	tr := newTrust(t)
	sk := newKey(t, nkeys.CreateAccount)
	akp, apub := tr.account(t, "A", func(ac *jwt.AccountClaims) {
		ac.SigningKeys.Add(pubKey(t, sk))
	})
	// A revocation covers the JWTs the user was issued until then; the
	// account is signed again with it.
	revoked := newUser(t, akp, apub, nil)
	tr.preload[apub] = signAccount(t, apub, "A", func(ac *jwt.AccountClaims) {
		ac.SigningKeys.Add(pubKey(t, sk))
		ac.RevokeAt(revoked.pub, time.Now().Add(time.Minute))
	}, tr.op)
	nkp, npub := tr.account(t, "NOBEARER", func(ac *jwt.AccountClaims) { ac.Limits.DisallowBearer = true })
	// An account nobody trusts: signed by another operator, yet preloaded.
	rogue := newKey(t, nkeys.CreateOperator)
	ukp := newKey(t, nkeys.CreateAccount)
	upub := pubKey(t, ukp)
	tr.preload[upub] = signAccount(t, upub, "UNTRUSTED", nil, rogue)
	// An account that is not preloaded at all.
	gkp := newKey(t, nkeys.CreateAccount)
	gpub := pubKey(t, gkp)

	good := newUser(t, akp, apub, nil)
	bySK := newUser(t, sk, apub, nil)
	bearer := newUser(t, akp, apub, func(uc *jwt.UserClaims) { uc.BearerToken = true })
	expired := newUser(t, akp, apub, func(uc *jwt.UserClaims) { uc.Expires = time.Now().Add(-time.Minute).Unix() })
	// The signing key issuing for an account it does not belong to.
	wrongIssuer := newUser(t, sk, npub, nil)
	// A valid JWT whose subject is swapped for the attacker's key, which
	// signs the nonce: the JWT's own signature no longer holds.
	thief := newKey(t, nkeys.CreateUser)
	forged := forgeSubject(t, good.jwt, pubKey(t, thief))

	servers(t, tr.config(t), func(t *testing.T, addr string) {
		url := "nats://" + addr
		nc := accepted(t, "account key", url, good.creds(t))
		if !nc.AuthRequired() {
			t.Error("INFO says no auth required")
		}
		accepted(t, "signing key", url, bySK.creds(t))
		accepted(t, "bearer with a bad signature", url, with(bearer.jwt, tampered(thief)))
		accepted(t, "bearer from a creds file", url, bearer.creds(t))
		rawJWT(t, addr, bearer, false) // and no signature at all

		refused(t, "tampered nonce signature", url, with(good.jwt, tampered(good.kp)))
		refused(t, "nonce signed by another key", url, with(good.jwt, thief.Sign))
		refused(t, "tampered JWT", url, with(forged, thief.Sign))
		refused(t, "truncated JWT", url, with(good.jwt[:len(good.jwt)-4], good.kp.Sign))
		refused(t, "expired JWT", url, expired.creds(t))
		refused(t, "revoked user", url, revoked.creds(t))
		refused(t, "unknown account", url, newUser(t, gkp, gpub, nil).creds(t))
		refused(t, "untrusted account", url, newUser(t, ukp, upub, nil).creds(t))
		refused(t, "bearer refused by its account", url, newUser(t, nkp, npub, func(uc *jwt.UserClaims) { uc.BearerToken = true }).creds(t))
		refused(t, "issuer not of the account", url, wrongIssuer.creds(t))
		refused(t, "no JWT", url, nats.UserInfo("u", "p"))
		refused(t, "nothing", url)
	})
}

// forgeSubject replaces the sub claim of a JWT and keeps its signature.
func forgeSubject(t testing.TB, tok, sub string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(claims), uc.Subject, sub, 1)
	if forged == string(claims) {
		t.Fatal("subject not found in the claims")
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	return strings.Join(parts, ".")
}

// closing returns an option that reports the connection's close, and a
// channel that is closed then.
func closing() (nats.Option, chan struct{}) {
	ch := make(chan struct{})
	return nats.ClosedHandler(func(*nats.Conn) { close(ch) }), ch
}

// parallelServers is servers for tests that wait on the clock: both
// servers wait at the same time.
func parallelServers(t *testing.T, config string, fn func(t *testing.T, addr string)) {
	t.Helper()
	servers(t, config, func(t *testing.T, addr string) {
		t.Parallel()
		fn(t, addr)
	})
}

// TestOperatorExpiry: a user JWT that expires while connected, and an
// account JWT that does, get nats-server's -ERR and are closed; nats.go
// reports the matching error. JWT times count in whole seconds, so the
// test waits one to two seconds, on both servers at once.
func TestOperatorExpiry(t *testing.T) {
	tr := newTrust(t)
	akp, apub := tr.account(t, "A", nil)
	soon := time.Now().Add(2 * time.Second).Unix()
	ekp, epub := tr.account(t, "EXPIRING", func(ac *jwt.AccountClaims) { ac.Expires = soon })
	short := newUser(t, akp, apub, func(uc *jwt.UserClaims) { uc.Expires = soon })
	long := newUser(t, akp, apub, nil)
	member := newUser(t, ekp, epub, nil)

	parallelServers(t, tr.config(t), func(t *testing.T, addr string) {
		url := "nats://" + addr
		type conn struct {
			nc     *nats.Conn
			errs   *asyncErrs
			closed chan struct{}
		}
		open := func(u *user) conn {
			errs, onErr := errorsOf(t)
			onClose, closed := closing()
			nc := accepted(t, "before expiry", url, u.creds(t), onErr, onClose)
			return conn{nc, errs, closed}
		}
		byUser, byAcct := open(short), open(member)
		stays := accepted(t, "no expiry", url, long.creds(t))
		wire := rawJWT(t, addr, short, true)

		byUser.errs.next(nats.ErrAuthExpired.Error())
		byAcct.errs.next(nats.ErrAccountAuthExpired.Error())
		for _, c := range []conn{byUser, byAcct} {
			select {
			case <-c.closed:
			case <-time.After(wait):
				t.Fatalf("connection still open after its expiry: %v", c.nc.Status())
			}
		}
		if got := wire.closed(); got != "-ERR 'User Authentication Expired'\r\n" {
			t.Fatalf("raw: got %q", got)
		}
		roundTrip(t, stays)
		// Once expired, they cannot come back. A JWT stays valid through
		// the second of its expiry (the jwt library's check, which both
		// servers use), so wait for the next one.
		time.Sleep(time.Until(time.Unix(soon+1, 0)))
		refused(t, "expired user", url, short.creds(t))
		refused(t, "user of an expired account", url, member.creds(t))
	})
}

// TestOperatorAccountConnections: the account JWT's connection limit.
func TestOperatorAccountConnections(t *testing.T) {
	tr := newTrust(t)
	akp, apub := tr.account(t, "A", func(ac *jwt.AccountClaims) { ac.Limits.Conn = 2 })
	servers(t, tr.config(t), func(t *testing.T, addr string) {
		url := "nats://" + addr
		u := newUser(t, akp, apub, nil)
		accepted(t, "first", url, u.creds(t))
		accepted(t, "second", url, newUser(t, akp, apub, nil).creds(t))
		_, err := nats.Connect(url, u.creds(t), nats.Timeout(wait), nats.NoReconnect())
		if err == nil || err.Error() != "nats: maximum account active connections exceeded" {
			t.Fatalf("third connection: %v, want nats: maximum account active connections exceeded", err)
		}
	})
}

// TestOperatorLimits: the user JWT's max subscriptions and max payload,
// the account JWT's, and the user's permissions.
func TestOperatorLimits(t *testing.T) {
	tr := newTrust(t)
	akp, apub := tr.account(t, "A", func(ac *jwt.AccountClaims) {
		ac.Limits.Payload = 4096
		ac.Limits.Subs = 3
	})
	limited := newUser(t, akp, apub, func(uc *jwt.UserClaims) {
		uc.Subs = 2
		uc.Limits.Payload = 100
		uc.Pub.Allow.Add("orders.>", "_INBOX.>")
		uc.Pub.Deny.Add("orders.secret")
		uc.Sub.Allow.Add("orders.>", "_INBOX.>")
	})
	plain := newUser(t, akp, apub, nil)

	servers(t, tr.config(t), func(t *testing.T, addr string) {
		url := "nats://" + addr
		errs, onErr := errorsOf(t)
		nc := connect(t, url, limited.creds(t), onErr)
		other := accepted(t, "plain", url, plain.creds(t))
		// The INFO that follows the first PONG tells nats.go the
		// connection's own limit, and the account's applies to others.
		if got := nc.MaxPayload(); got != 100 {
			t.Errorf("limited MaxPayload() = %d, want 100", got)
		}
		if got := other.MaxPayload(); got != 4096 {
			t.Errorf("plain MaxPayload() = %d, want the account's 4096", got)
		}
		if err := nc.Publish("orders.big", make([]byte, 101)); !errors.Is(err, nats.ErrMaxPayload) {
			t.Fatalf("101 bytes: %v, want ErrMaxPayload", err)
		}

		// Permissions from the JWT.
		nc.Publish("orders.secret", nil)
		nc.Publish("billing.x", nil)
		nc.SubscribeSync("billing.>")
		stillOpen(t, nc)
		errs.next(pubViolation("orders.secret"))
		errs.next(pubViolation("billing.x"))
		errs.next(subViolation("billing.>", ""))

		// Two subscriptions; the third is refused and the connection
		// stays up.
		s1, _ := nc.SubscribeSync("orders.a")
		nc.SubscribeSync("orders.b")
		nc.SubscribeSync("orders.c")
		stillOpen(t, nc)
		errs.next("nats: server maximum subscriptions exceeded")
		nc.Publish("orders.a", []byte("still here"))
		if m := next(t, s1); string(m.Data) != "still here" {
			t.Fatalf("got %q", m.Data)
		}
		// The account's limit binds a user without one of its own.
		oerrs, onOErr := errorsOf(t)
		other2 := connect(t, url, plain.creds(t), onOErr)
		for i := range 4 {
			if _, err := other2.SubscribeSync(fmt.Sprintf("s.%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		stillOpen(t, other2)
		oerrs.next("nats: server maximum subscriptions exceeded")

		// The same on the wire, and the payload limit enforced by the
		// server for a client that ignores it.
		c := rawJWT(t, addr, limited, true)
		c.send("SUB orders.a 1\r\nSUB orders.b 2\r\nSUB orders.c 3\r\n")
		if got := c.flush(); got != "-ERR 'maximum subscriptions exceeded'\r\n" {
			t.Fatalf("third SUB: got %q", got)
		}
		c.send("PUB orders.a 100\r\n" + strings.Repeat("x", 100) + "\r\n")
		if got := c.flush(); got != "MSG orders.a 1 100\r\n"+strings.Repeat("x", 100)+"\r\n" {
			t.Fatalf("100 bytes: got %q", got)
		}
		c.send("PUB orders.a 101\r\n" + strings.Repeat("x", 101) + "\r\n")
		if got := c.closed(); got != "-ERR 'Maximum Payload Violation'\r\n" {
			t.Fatalf("101 bytes: got %q", got)
		}
	})
}

// TestOperatorSecondConnect: a second CONNECT as another user takes that
// user's limits, higher or lower, and the system account's users are told
// so in the connect_info INFO.
func TestOperatorSecondConnect(t *testing.T) {
	tr := newTrust(t)
	akp, apub := tr.account(t, "A", nil)
	limited := newUser(t, akp, apub, func(uc *jwt.UserClaims) { uc.Limits.Payload = 100 })
	plain := newUser(t, akp, apub, nil)
	servers(t, tr.config(t), func(t *testing.T, addr string) {
		c := rawJWT(t, addr, limited, true)
		sig, err := plain.kp.Sign([]byte(infoField(t, c.info, "nonce")))
		if err != nil {
			t.Fatal(err)
		}
		c.connect(fmt.Sprintf(`{"verbose":false,"jwt":%q,"sig":%q}`, plain.jwt, base64.RawURLEncoding.EncodeToString(sig)))
		body := strings.Repeat("y", 200)
		c.send("SUB big 1\r\nPUB big 200\r\n" + body + "\r\n")
		if got := c.flush(); got != "MSG big 1 200\r\n"+body+"\r\n" {
			t.Fatalf("200 bytes after a second CONNECT without a limit: got %.80q", got)
		}

		// The connect_info INFO says whether the account is the system
		// account.
		for _, tc := range []struct {
			u   *user
			sys bool
		}{{newUser(t, tr.sys, tr.sysPub, nil), true}, {plain, false}} {
			c := dialRaw(t, addr)
			sig, err := tc.u.kp.Sign([]byte(infoField(t, c.info, "nonce")))
			if err != nil {
				t.Fatal(err)
			}
			c.send(fmt.Sprintf("CONNECT {\"verbose\":false,\"protocol\":1,\"jwt\":%q,\"sig\":%q}\r\nPING\r\n",
				tc.u.jwt, base64.RawURLEncoding.EncodeToString(sig)))
			c.expect("PONG\r\n")
			info := c.line()
			if got := strings.Contains(info, `"acc_is_sys":true`); got != tc.sys {
				t.Errorf("system account %v: INFO %s", tc.sys, info)
			}
			if !strings.Contains(info, `"remote_account":"`+tc.u.issuerAccount(t)+`"`) {
				t.Errorf("INFO %s does not name the account", info)
			}
		}
	})
}

// TestOperatorJWTFile: operator: names a file holding the operator JWT,
// decorated as nsc writes it.
func TestOperatorJWTFile(t *testing.T) {
	tr := newTrust(t)
	akp, apub := tr.account(t, "A", nil)
	u := newUser(t, akp, apub, nil)
	data, err := jwt.DecorateJWT(tr.operatorJWT(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "op.jwt")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	servers(t, tr.configWith(t, path), func(t *testing.T, addr string) {
		accepted(t, "user", "nats://"+addr, u.creds(t))
		refused(t, "no JWT", "nats://"+addr)
	})
}

// TestOperatorScopedSigningKey: a user issued by a scoped signing key
// gets the scope's template permissions and limits, with {{name()}}
// expanded, and nothing of its own.
func TestOperatorScopedSigningKey(t *testing.T) {
	tr := newTrust(t)
	scoped := newKey(t, nkeys.CreateAccount)
	akp, apub := tr.account(t, "A", func(ac *jwt.AccountClaims) {
		sc := jwt.NewUserScope()
		sc.Key = pubKey(t, scoped)
		sc.Template.Pub.Allow.Add("svc.{{name()}}.>")
		sc.Template.Sub.Allow.Add("_INBOX.>", "svc.{{name()}}.>")
		sc.Template.Subs = 2
		ac.SigningKeys.AddScopedSigner(sc)
	})
	bob := newUser(t, scoped, apub, func(uc *jwt.UserClaims) {
		uc.Name = "bob"
		uc.SetScoped(true)
	})
	watcher := newUser(t, akp, apub, nil)
	servers(t, tr.config(t), func(t *testing.T, addr string) {
		url := "nats://" + addr
		w := connect(t, url, watcher.creds(t))
		seen, _ := w.SubscribeSync("svc.>")
		flush(t, w)
		errs, onErr := errorsOf(t)
		nc := connect(t, url, bob.creds(t), onErr)
		nc.Publish("svc.bob.ping", nil)
		nc.Publish("svc.alice.ping", nil)
		nc.SubscribeSync("svc.alice.>")
		nc.SubscribeSync("svc.bob.a")
		nc.SubscribeSync("svc.bob.b")
		nc.SubscribeSync("svc.bob.c")
		stillOpen(t, nc)
		errs.next(pubViolation("svc.alice.ping"))
		errs.next(subViolation("svc.alice.>", ""))
		errs.next("nats: server maximum subscriptions exceeded")
		if got := subjects(t, seen, 1); got[0] != "svc.bob.ping" {
			t.Fatalf("watcher saw %v", got)
		}
		flush(t, w)
		none(t, seen)
	})
}

// TestOperatorZeroSubs: a user JWT with subs: 0 may not subscribe at all,
// and the server closes its connection right after the CONNECT with the
// same error (nats-server sends it from a goroutine, so the lines come in
// either order there).
func TestOperatorZeroSubs(t *testing.T) {
	tr := newTrust(t)
	akp, apub := tr.account(t, "A", nil)
	u := newUser(t, akp, apub, func(uc *jwt.UserClaims) { uc.Subs = 0 })
	servers(t, tr.config(t), func(t *testing.T, addr string) {
		c := dialRaw(t, addr)
		s, err := u.kp.Sign([]byte(infoField(t, c.info, "nonce")))
		if err != nil {
			t.Fatal(err)
		}
		c.send(fmt.Sprintf("CONNECT {\"verbose\":false,\"jwt\":%q,\"sig\":%q}\r\nPING\r\nSUB a 1\r\n",
			u.jwt, base64.RawURLEncoding.EncodeToString(s)))
		lines := strings.SplitAfter(c.closed(), "\r\n")
		sort.Strings(lines)
		if got := strings.Join(lines, ""); got != "-ERR 'maximum subscriptions exceeded'\r\n-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n" {
			t.Fatalf("got %q", got)
		}
	})
}
