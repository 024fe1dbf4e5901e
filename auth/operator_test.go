package auth

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/conf"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// opFixture is an operator with account A (identity key, a plain signing
// key and a scoped signing key) and an untrusted account.
type opFixture struct {
	env                  *operatorEnv
	akp, ask, ascoped    nkeys.KeyPair
	apub, askPub, scoped string
	revokedPub           string
	untrustedPub         string
	untrustedKP          nkeys.KeyPair
	auth                 *Authenticator
}

func newOpFixture(t *testing.T, editA func(*jwt.AccountClaims)) *opFixture {
	t.Helper()
	f := &opFixture{env: newOperatorEnv(t)}
	f.akp, f.apub = keys(t, nkeys.CreateAccount)
	f.ask, f.askPub = keys(t, nkeys.CreateAccount)
	f.ascoped, f.scoped = keys(t, nkeys.CreateAccount)
	_, f.revokedPub = keys(t, nkeys.CreateUser)
	f.env.addAccount(t, f.apub, "ACC-A", func(ac *jwt.AccountClaims) {
		ac.SigningKeys.Add(f.askPub)
		sc := jwt.NewUserScope()
		sc.Key = f.scoped
		sc.Template.Pub.Allow.Add("svc.{{name()}}.>", "acct.{{account-name()}}")
		sc.Template.Sub.Allow.Add("_INBOX.>", "team.{{tag(team)}}")
		sc.Template.Subs = 7
		ac.SigningKeys.AddScopedSigner(sc)
		ac.Limits.Conn = 5
		ac.Limits.Subs = 100
		ac.Limits.Payload = 4096
		ac.Tags.Add("region:eu")
		if editA != nil {
			editA(ac)
		}
	}, f.env.opSK)
	// Signed by an operator nobody trusts.
	rogue, _ := keys(t, nkeys.CreateOperator)
	f.untrustedKP, f.untrustedPub = keys(t, nkeys.CreateAccount)
	f.env.addAccount(t, f.untrustedPub, "ROGUE", nil, rogue)
	f.auth = mustNew(t, f.env.options(t, nil))
	return f
}

func TestOperatorMode(t *testing.T) {
	f := newOpFixture(t, nil)
	a := f.auth
	if !a.Required() || !a.NeedNonce() || !a.Operator() {
		t.Fatal("operator mode requires auth and a nonce")
	}
	if a.SystemAccount() != f.env.sysPub {
		t.Fatalf("system account %q, want the operator's %q", a.SystemAccount(), f.env.sysPub)
	}
	if w := strings.Join(a.Warnings(), "\n"); !strings.Contains(w, f.untrustedPub) || !strings.Contains(w, "trusted operator") {
		t.Fatalf("warnings %q should explain the untrusted account", w)
	}
	if _, ok := a.LookupAccount(f.untrustedPub); ok {
		t.Fatal("untrusted account is usable")
	}
	acc, ok := a.LookupAccount(f.apub)
	if !ok || acc.NameTag != "ACC-A" || acc.MaxConnections != 5 || acc.System {
		t.Fatalf("account A: %+v", acc)
	}
	if sys, _ := a.LookupAccount(f.env.sysPub); sys == nil || !sys.System {
		t.Fatal("system account not flagged")
	}

	nonce := a.NewNonce()
	type tc struct {
		name  string
		build func(t *testing.T) ConnectCreds
		cause error                            // the failure's cause, if specific
		check func(t *testing.T, id *Identity) // nil: must fail
	}
	signed := func(signer nkeys.KeyPair, acc string, edit func(*jwt.UserClaims)) func(t *testing.T) ConnectCreds {
		return func(t *testing.T) ConnectCreds {
			tok, ukp, _ := userJWT(t, signer, acc, edit)
			j, sig := credsRoundTrip(t, tok, ukp, nonce)
			return ConnectCreds{JWT: j, Sig: sig}
		}
	}
	tests := []tc{
		{name: "account key", build: signed(f.akp, f.apub, func(uc *jwt.UserClaims) {
			uc.Pub.Allow.Add("orders.>")
			uc.Subs = 3
		}), check: func(t *testing.T, id *Identity) {
			if id.Account != f.apub || id.Method != MethodJWT || id.SigningKey != "" || id.NameTag != "alice" {
				t.Fatalf("identity %+v", id)
			}
			if !id.Perms.CanPublish([]byte("orders.1")) || id.Perms.CanPublish([]byte("x")) {
				t.Fatal("JWT permissions not applied")
			}
			if id.MaxSubs != 3 || id.MaxPayload != 4096 || !id.Expires.IsZero() {
				t.Fatalf("limits %d/%d expires %v", id.MaxSubs, id.MaxPayload, id.Expires)
			}
		}},
		{name: "signing key with issuer_account", build: signed(f.ask, f.apub, nil), check: func(t *testing.T, id *Identity) {
			if id.Account != f.apub || id.SigningKey != f.askPub || id.Perms != nil || id.MaxSubs != 100 {
				t.Fatalf("identity %+v", id)
			}
		}},
		{name: "scoped signing key", build: signed(f.ascoped, f.apub, func(uc *jwt.UserClaims) {
			uc.SetScoped(true)
			uc.Name = "bob"
			uc.Tags.Add("team:red", "team:blue")
		}), check: func(t *testing.T, id *Identity) {
			p := id.Perms
			for _, s := range []string{"svc.bob.x", "acct.ACC-A"} {
				if !p.CanPublish([]byte(s)) {
					t.Errorf("template should allow publish %q", s)
				}
			}
			if p.CanPublish([]byte("svc.alice.x")) {
				t.Error("template allowed another user's subject")
			}
			for _, s := range []string{"team.red", "team.blue", "_INBOX.1"} {
				if !p.CanSubscribe(s, "") {
					t.Errorf("template should allow subscribe %q", s)
				}
			}
			if p.CanSubscribe("team.green", "") || id.MaxSubs != 7 {
				t.Errorf("scope template not applied: %d", id.MaxSubs)
			}
		}},
		{name: "scoped key with permissions in user", build: signed(f.ascoped, f.apub, func(uc *jwt.UserClaims) {
			uc.Pub.Allow.Add(">")
		})},
		{name: "tampered JWT", build: func(t *testing.T) ConnectCreds {
			tok, ukp, _ := userJWT(t, f.akp, f.apub, nil)
			parts := strings.Split(tok, ".")
			other, _, _ := userJWT(t, f.akp, f.apub, func(uc *jwt.UserClaims) { uc.Pub.Allow.Add(">") })
			parts[1] = strings.Split(other, ".")[1]
			return ConnectCreds{JWT: strings.Join(parts, "."), Sig: sign(t, ukp, nonce)}
		}},
		{name: "tampered nonce signature", build: func(t *testing.T) ConnectCreds {
			tok, ukp, _ := userJWT(t, f.akp, f.apub, nil)
			return ConnectCreds{JWT: tok, Sig: tamper(sign(t, ukp, nonce))}
		}, cause: ErrBadSignature},
		{name: "signature by another key", build: func(t *testing.T) ConnectCreds {
			tok, _, _ := userJWT(t, f.akp, f.apub, nil)
			okp, _ := keys(t, nkeys.CreateUser)
			return ConnectCreds{JWT: tok, Sig: sign(t, okp, nonce)}
		}, cause: ErrBadSignature},
		{name: "missing signature", build: func(t *testing.T) ConnectCreds {
			tok, _, _ := userJWT(t, f.akp, f.apub, nil)
			return ConnectCreds{JWT: tok}
		}, cause: ErrBadSignature},
		{name: "expired", build: signed(f.akp, f.apub, func(uc *jwt.UserClaims) {
			uc.Expires = time.Now().Add(-time.Minute).Unix()
		}), cause: ErrExpired},
		{name: "not yet valid", build: signed(f.akp, f.apub, func(uc *jwt.UserClaims) {
			uc.NotBefore = time.Now().Add(time.Hour).Unix()
		})},
		{name: "expires later", build: signed(f.akp, f.apub, func(uc *jwt.UserClaims) {
			uc.Expires = time.Now().Add(time.Hour).Unix()
		}), check: func(t *testing.T, id *Identity) {
			if d := time.Until(id.Expires); d < 59*time.Minute || d > time.Hour {
				t.Fatalf("Expires in %v", d)
			}
		}},
		{name: "unknown account", build: func(t *testing.T) ConnectCreds {
			kp, pub := keys(t, nkeys.CreateAccount)
			tok, ukp, _ := userJWT(t, kp, pub, nil)
			return ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}
		}, cause: ErrUnknownAccount},
		{name: "account not signed by trusted operator", build: signed(f.untrustedKP, f.untrustedPub, nil), cause: ErrAccountValidation},
		{name: "issuer not an account signer", build: func(t *testing.T) ConnectCreds {
			kp, _ := keys(t, nkeys.CreateAccount)
			tok, ukp, _ := userJWT(t, kp, f.apub, nil)
			return ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}
		}},
		{name: "bearer", build: func(t *testing.T) ConnectCreds {
			tok, _, _ := userJWT(t, f.akp, f.apub, func(uc *jwt.UserClaims) { uc.BearerToken = true })
			return ConnectCreds{JWT: tok}
		}, check: func(t *testing.T, id *Identity) {
			if !id.Bearer {
				t.Fatal("bearer not reported")
			}
		}},
		{name: "no JWT", build: func(t *testing.T) ConnectCreds { return ConnectCreds{User: "a", Pass: "b"} }, cause: ErrJWTRequired},
		{name: "not a JWT", build: func(t *testing.T) ConnectCreds { return ConnectCreds{JWT: "eyJhbGciOi.nope.x"} }},
		{name: "leaf only user", build: signed(f.akp, f.apub, func(uc *jwt.UserClaims) {
			uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeLeafnode)
		}), cause: ErrConnectionType},
		{name: "src allowed", build: func(t *testing.T) ConnectCreds {
			c := signed(f.akp, f.apub, func(uc *jwt.UserClaims) { uc.Src.Add("10.0.0.0/8") })(t)
			c.Host = "10.1.2.3"
			return c
		}, check: func(t *testing.T, id *Identity) {}},
		{name: "src refused", build: func(t *testing.T) ConnectCreds {
			c := signed(f.akp, f.apub, func(uc *jwt.UserClaims) { uc.Src.Add("10.0.0.0/8") })(t)
			c.Host = "192.168.1.1"
			return c
		}, cause: ErrSource},
		{name: "src without host", build: signed(f.akp, f.apub, func(uc *jwt.UserClaims) { uc.Src.Add("10.0.0.0/8") }), cause: ErrSource},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.build(t)
			id, err := a.Authenticate(&c, nonce)
			if tt.check == nil {
				// Failure expected, with a specific cause when given.
				wantAuthErr(t, err, tt.cause)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, id)
		})
	}
}

func TestOperatorRevocationAndAccountPolicy(t *testing.T) {
	env := newOperatorEnv(t)
	akp, apub := keys(t, nkeys.CreateAccount)
	// JWTs carry their issue time (set by Encode); a revocation covers every
	// JWT of that user issued at or before its timestamp.
	revoked, rkp, rpub := userJWT(t, akp, apub, nil)
	fine, fkp, _ := userJWT(t, akp, apub, nil)
	bearer, _, _ := userJWT(t, akp, apub, func(uc *jwt.UserClaims) { uc.BearerToken = true })
	env.addAccount(t, apub, "A", func(ac *jwt.AccountClaims) {
		ac.RevokeAt(rpub, time.Now().Add(time.Minute))
		ac.Limits.DisallowBearer = true
	}, env.op)
	a := mustNew(t, env.options(t, nil))
	nonce := a.NewNonce()

	_, err := a.Authenticate(&ConnectCreds{JWT: revoked, Sig: sign(t, rkp, nonce)}, nonce)
	wantAuthErr(t, err, ErrRevoked)
	if _, err := a.Authenticate(&ConnectCreds{JWT: fine, Sig: sign(t, fkp, nonce)}, nonce); err != nil {
		t.Fatalf("other user: %v", err)
	}
	_, err = a.Authenticate(&ConnectCreds{JWT: bearer}, nonce)
	wantAuthErr(t, err, ErrBearerNotAllowed)

	// Revoking "*" revokes everyone's older JWTs.
	env.addAccount(t, apub, "A", func(ac *jwt.AccountClaims) { ac.RevokeAt(jwt.All, time.Now().Add(time.Minute)) }, env.op)
	a = mustNew(t, env.options(t, nil))
	_, err = a.Authenticate(&ConnectCreds{JWT: fine, Sig: sign(t, fkp, nonce)}, nonce)
	wantAuthErr(t, err, ErrRevoked)
}

func TestOperatorAccountExpiredAndStrict(t *testing.T) {
	env := newOperatorEnv(t)
	akp, apub := keys(t, nkeys.CreateAccount)
	env.addAccount(t, apub, "A", func(ac *jwt.AccountClaims) {
		ac.Expires = time.Now().Add(-time.Second).Unix()
	}, env.op)
	a := mustNew(t, env.options(t, nil))
	nonce := a.NewNonce()
	tok, ukp, _ := userJWT(t, akp, apub, nil)
	_, err := a.Authenticate(&ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}, nonce)
	wantAuthErr(t, err, ErrAccountExpired)

	// Strict signing key usage: the operator identity key no longer signs
	// accounts, and the account key no longer signs users.
	env = newOperatorEnv(t)
	env.addAccount(t, env.sysPub, "SYS", nil, env.opSK)
	bkp, bpub := keys(t, nkeys.CreateAccount)
	bsk, bskPub := keys(t, nkeys.CreateAccount)
	env.addAccount(t, bpub, "B", func(ac *jwt.AccountClaims) { ac.SigningKeys.Add(bskPub) }, env.opSK)
	ckp, cpub := keys(t, nkeys.CreateAccount)
	env.addAccount(t, cpub, "C", nil, env.op)
	a = mustNew(t, env.options(t, func(oc *jwt.OperatorClaims) { oc.StrictSigningKeyUsage = true }))
	nonce = a.NewNonce()
	tok, ukp, _ = userJWT(t, bsk, bpub, nil)
	if _, err := a.Authenticate(&ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}, nonce); err != nil {
		t.Fatalf("signing key user under strict operator: %v", err)
	}
	tok, ukp, _ = userJWT(t, bkp, bpub, nil)
	_, err = a.Authenticate(&ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}, nonce)
	wantAuthErr(t, err, nil)
	tok, ukp, _ = userJWT(t, ckp, cpub, nil)
	_, err = a.Authenticate(&ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}, nonce)
	wantAuthErr(t, err, ErrAccountValidation)
}

func TestOperatorConfig(t *testing.T) {
	env := newOperatorEnv(t)
	opJWT := env.operatorJWT(t, nil)
	file := filepath.Join(t.TempDir(), "op.jwt")
	decorated, err := jwt.DecorateJWT(opJWT)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, decorated, 0o600); err != nil {
		t.Fatal(err)
	}
	// The operator may come from a (decorated) file.
	a := mustNew(t, &conf.Options{TrustedOperators: []string{file}, Resolver: "MEM", ResolverPreload: env.preload})
	if !a.Operator() || a.SystemAccount() != env.sysPub {
		t.Fatal("operator from file not loaded")
	}
	tests := []struct {
		name string
		opts conf.Options
		want string
	}{
		{"bad operator", conf.Options{TrustedOperators: []string{"eyJnot-a-jwt"}, Resolver: "MEMORY"}, "error parsing operator JWT"},
		{"no resolver", conf.Options{TrustedOperators: []string{opJWT}}, "operators require an account resolver to be configured"},
		{"url resolver", conf.Options{TrustedOperators: []string{opJWT}, Resolver: "URL(http://x)"}, "only MEMORY"},
		{"accounts", conf.Options{TrustedOperators: []string{opJWT}, Resolver: "MEMORY", Accounts: []*conf.Account{{Name: "A"}}},
			"operators do not allow Accounts to be configured directly"},
		{"users", conf.Options{TrustedOperators: []string{opJWT}, Resolver: "MEMORY",
			Authorization: conf.Authorization{Users: []*conf.User{{Username: "u"}}}},
			"operators do not allow users to be configured directly"},
		{"no_auth_user", conf.Options{TrustedOperators: []string{opJWT}, Resolver: "MEMORY", NoAuthUser: "u"},
			"no_auth_user not compatible with Trusted Operator"},
		{"keys and operators", conf.Options{TrustedOperators: []string{opJWT}, TrustedKeys: []string{env.opPub}, Resolver: "MEMORY"},
			"conflicting options for 'TrustedKeys' and 'TrustedOperators'"},
		{"bad trusted key", conf.Options{TrustedKeys: []string{"OBAD"}}, "are required to be a valid public operator nkey"},
		{"system account mismatch", conf.Options{TrustedOperators: []string{opJWT}, Resolver: "MEMORY", SystemAccount: "AXXX"},
			"system_account in config and operator JWT must be identical"},
		{"bad preload", conf.Options{TrustedOperators: []string{opJWT}, Resolver: "MEMORY",
			ResolverPreload: map[string]string{"AAA": "garbage"}}, `preload account error for "AAA"`},
		{"version", conf.Options{TrustedOperators: []string{env.operatorJWT(t, func(oc *jwt.OperatorClaims) {
			oc.AssertServerVersion = "3.0.0"
		})}, Resolver: "MEMORY"}, "expected major version 3 > server major version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&tt.opts)
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Trusted keys alone (no operator JWT) also enable operator mode.
	akp, apub := keys(t, nkeys.CreateAccount)
	env.addAccount(t, apub, "A", nil, env.op)
	a = mustNew(t, &conf.Options{TrustedKeys: []string{env.opPub}, ResolverPreload: env.preload})
	nonce := a.NewNonce()
	tok, ukp, _ := userJWT(t, akp, apub, nil)
	if _, err := a.Authenticate(&ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}, nonce); err != nil {
		t.Fatal(err)
	}
	if a.SystemAccount() != conf.SystemAccount {
		t.Fatalf("system account %q without operator, want $SYS", a.SystemAccount())
	}
}

func TestOperatorTimes(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		times []jwt.TimeRange
		ok    bool
		left  time.Duration
	}{
		{nil, true, 0},
		{[]jwt.TimeRange{{Start: "11:00:00", End: "13:00:00"}}, true, time.Hour},
		{[]jwt.TimeRange{{Start: "13:00:00", End: "14:00:00"}}, false, 0},
		{[]jwt.TimeRange{{Start: "22:00:00", End: "13:30:00"}}, true, 90 * time.Minute},
		{[]jwt.TimeRange{{Start: "11:30:00", End: "06:00:00"}}, true, 18 * time.Hour},
		{[]jwt.TimeRange{{Start: "11:00:00", End: "12:30:00"}, {Start: "10:00:00", End: "15:00:00"}}, true, 3 * time.Hour},
	}
	for i, tt := range tests {
		ok, left := timesAllow(tt.times, "UTC", now)
		if ok != tt.ok || left != tt.left {
			t.Errorf("%d: got %v %v, want %v %v", i, ok, left, tt.ok, tt.left)
		}
	}
}

func TestOperatorExports(t *testing.T) {
	env := newOperatorEnv(t)
	skp, spub := keys(t, nkeys.CreateAccount)
	_, cpub := keys(t, nkeys.CreateAccount)
	_, dpub := keys(t, nkeys.CreateAccount)
	env.addAccount(t, spub, "SVC", func(ac *jwt.AccountClaims) {
		ac.Exports.Add(&jwt.Export{Subject: "req.>", Type: jwt.Service, ResponseType: jwt.ResponseTypeStream})
		ac.Exports.Add(&jwt.Export{Subject: "events.>", Type: jwt.Stream})
		ac.Exports.Add(&jwt.Export{Subject: "private.>", Type: jwt.Stream, TokenReq: true})
	}, env.op)
	// An activation token for D on the private stream.
	act := jwt.NewActivationClaims(dpub)
	act.ImportSubject = "private.>"
	act.ImportType = jwt.Stream
	token, err := act.Encode(skp)
	if err != nil {
		t.Fatal(err)
	}
	env.addAccount(t, cpub, "C", func(ac *jwt.AccountClaims) {
		ac.Imports.Add(&jwt.Import{Account: spub, Subject: "req.>", Type: jwt.Service})
		//lint:ignore SA1019 accounts signed before LocalSubject still use To, and nats-server honours it
		ac.Imports.Add(&jwt.Import{Account: spub, Subject: "events.>", Type: jwt.Stream, To: "ev"})
		ac.Imports.Add(&jwt.Import{Account: spub, Subject: "private.>", Type: jwt.Stream})
	}, env.op)
	env.addAccount(t, dpub, "D", func(ac *jwt.AccountClaims) {
		ac.Imports.Add(&jwt.Import{Account: spub, Subject: "private.>", Type: jwt.Stream, Token: token})
	}, env.op)
	a := mustNew(t, env.options(t, nil))
	c, _ := a.LookupAccount(cpub)
	if len(c.Imports) != 2 {
		t.Fatalf("C imports %+v, want the private one dropped", c.Imports)
	}
	svc, ev := c.Imports[0], c.Imports[1]
	if !svc.Service {
		svc, ev = ev, svc
	}
	if !svc.Service || svc.To != "req.>" || svc.Subject != "req.>" || svc.Export.ResponseType != "Stream" {
		t.Fatalf("service import %+v", svc)
	}
	if ev.Service || ev.To != "ev.events.>" || ev.Prefix != "ev" {
		t.Fatalf("stream import %+v", ev)
	}
	if !strings.Contains(strings.Join(a.Warnings(), "\n"), "stream import not authorized") {
		t.Fatalf("warnings %q", a.Warnings())
	}
	d, _ := a.LookupAccount(dpub)
	if len(d.Imports) != 1 || d.Imports[0].Export.Subject != "private.>" {
		t.Fatalf("activation token import not accepted: %+v", d.Imports)
	}
}

func TestOperatorDefaultAndResponsePermissions(t *testing.T) {
	env := newOperatorEnv(t)
	akp, apub := keys(t, nkeys.CreateAccount)
	env.addAccount(t, apub, "A", func(ac *jwt.AccountClaims) {
		ac.DefaultPermissions.Sub.Deny.Add("private.>")
	}, env.op)
	a := mustNew(t, env.options(t, nil))
	nonce := a.NewNonce()

	// No permissions in the user JWT: the account's defaults apply.
	tok, ukp, _ := userJWT(t, akp, apub, nil)
	id, err := a.Authenticate(&ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if id.Perms.CanSubscribe("private.x", "") || !id.Perms.CanSubscribe("public", "") {
		t.Fatal("account default permissions not applied")
	}

	// resp in the user JWT: allow_responses with "deny all but replies".
	tok, ukp, _ = userJWT(t, akp, apub, func(uc *jwt.UserClaims) {
		uc.Resp = &jwt.ResponsePermission{MaxMsgs: 2, Expires: time.Minute}
	})
	id, err = a.Authenticate(&ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}, nonce)
	if err != nil {
		t.Fatal(err)
	}
	r := id.Perms.Response()
	if r == nil || r.MaxMsgs != 2 || r.Expires != time.Minute || id.Perms.CanPublish([]byte("x")) {
		t.Fatalf("response permission %+v", r)
	}
	if !id.Perms.CanSubscribe("private.x", "") {
		t.Fatal("user permissions replace the account defaults")
	}
	c := NewChecker(id.Perms)
	c.AddReply([]byte("_INBOX.1"))
	if !c.Publish([]byte("_INBOX.1")) {
		t.Fatal("reply denied")
	}
}

func TestOperatorSystemAccountMustResolve(t *testing.T) {
	env := newOperatorEnv(t)
	delete(env.preload, env.sysPub)
	_, err := New(env.options(t, nil))
	if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "error resolving system account") {
		t.Fatalf("error %v", err)
	}
	// Without a system account anywhere, $SYS is made up locally.
	a := mustNew(t, env.options(t, func(oc *jwt.OperatorClaims) { oc.SystemAccount = "" }))
	if sys, ok := a.LookupAccount("$SYS"); !ok || !sys.System || a.SystemAccount() != "$SYS" {
		t.Fatal("local $SYS missing")
	}
}

// TestNatsGoCredentials reads a creds file with nats.go's own
// UserCredentials option and authenticates with what it would send.
func TestNatsGoCredentials(t *testing.T) {
	env := newOperatorEnv(t)
	akp, apub := keys(t, nkeys.CreateAccount)
	env.addAccount(t, apub, "A", nil, env.op)
	a := mustNew(t, env.options(t, nil))
	tok, ukp, upub := userJWT(t, akp, apub, nil)
	seed, _ := ukp.Seed()
	data, err := jwt.FormatUserConfig(tok, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	o := nats.GetDefaultOptions()
	if err := nats.UserCredentials(path)(&o); err != nil {
		t.Fatal(err)
	}
	nonce := a.NewNonce()
	j, err := o.UserJWT()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := o.SignatureCB([]byte(nonce))
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(&ConnectCreds{JWT: j, Sig: base64.RawURLEncoding.EncodeToString(raw)}, nonce)
	if err != nil || id.Name != upub || id.Account != apub {
		t.Fatalf("%v %+v", err, id)
	}
}
