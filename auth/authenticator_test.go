package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/canopy-nats/canopy/conf"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

func TestNonce(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := NewNonce()
		if len(n) != 15 {
			t.Fatalf("nonce %q has length %d, want 15", n, len(n))
		}
		raw, err := base64.RawURLEncoding.DecodeString(n)
		if err != nil || len(raw) != 11 {
			t.Fatalf("nonce %q: %v, %d bytes", n, err, len(raw))
		}
		if seen[n] {
			t.Fatalf("nonce %q repeated", n)
		}
		seen[n] = true
	}
}

func TestNoAuthConfigured(t *testing.T) {
	a := mustNew(t, &conf.Options{})
	if a.Required() || a.NeedNonce() {
		t.Fatalf("Required=%v NeedNonce=%v, want false", a.Required(), a.NeedNonce())
	}
	id, err := a.Authenticate(&ConnectCreds{User: "x", Pass: "y"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if id.Account != conf.GlobalAccount || id.Perms != nil || id.Method != MethodNone {
		t.Fatalf("identity %+v", id)
	}
	if id.MaxPayload != conf.DefaultMaxPayload || id.MaxSubs != Unlimited {
		t.Fatalf("limits %d/%d", id.MaxSubs, id.MaxPayload)
	}
}

func TestTokenAndSingleUser(t *testing.T) {
	tests := []struct {
		name  string
		authz conf.Authorization
		creds ConnectCreds
		ok    bool
		who   string
	}{
		{"token", conf.Authorization{Token: "s3cr3t"}, ConnectCreds{Token: "s3cr3t"}, true, "[REDACTED]"},
		{"token wrong", conf.Authorization{Token: "s3cr3t"}, ConnectCreds{Token: "nope"}, false, ""},
		{"token missing", conf.Authorization{Token: "s3cr3t"}, ConnectCreds{}, false, ""},
		{"token as password", conf.Authorization{Token: "s3cr3t"}, ConnectCreds{Pass: "s3cr3t"}, false, ""},
		{"token bcrypt", conf.Authorization{Token: hash(t, "s3cr3t")}, ConnectCreds{Token: "s3cr3t"}, true, "[REDACTED]"},
		{"token bcrypt wrong", conf.Authorization{Token: hash(t, "s3cr3t")}, ConnectCreds{Token: "s3cr3"}, false, ""},
		{"user", conf.Authorization{Username: "u", Password: "p"}, ConnectCreds{User: "u", Pass: "p"}, true, "u"},
		{"user wrong pass", conf.Authorization{Username: "u", Password: "p"}, ConnectCreds{User: "u", Pass: "q"}, false, ""},
		{"user wrong name", conf.Authorization{Username: "u", Password: "p"}, ConnectCreds{User: "v", Pass: "p"}, false, ""},
		{"user bcrypt", conf.Authorization{Username: "u", Password: hash(t, "p")}, ConnectCreds{User: "u", Pass: "p"}, true, "u"},
		{"user bcrypt wrong", conf.Authorization{Username: "u", Password: hash(t, "p")}, ConnectCreds{User: "u", Pass: "x"}, false, ""},
		{"user no creds", conf.Authorization{Username: "u", Password: "p"}, ConnectCreds{}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, &conf.Options{Authorization: tt.authz})
			if !a.Required() || a.NeedNonce() {
				t.Fatalf("Required=%v NeedNonce=%v", a.Required(), a.NeedNonce())
			}
			id, err := a.Authenticate(&tt.creds, "")
			if !tt.ok {
				wantAuthErr(t, err, ErrBadCredentials)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Name != tt.who || id.Account != conf.GlobalAccount {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestUsersList(t *testing.T) {
	perms := &conf.Permissions{Publish: &conf.SubjectPermission{Allow: []string{"orders.>"}}}
	opts := &conf.Options{
		Authorization: conf.Authorization{
			Users: []*conf.User{
				{Username: "alice", Password: "pw", Permissions: perms},
				{Username: "bob", Password: hash(t, "bpw")},
				{Username: "carol", Password: "cpw", Account: "A"},
			},
			DefaultPermissions: &conf.Permissions{Subscribe: &conf.SubjectPermission{Allow: []string{"public.>"}}},
		},
		Accounts: []*conf.Account{
			{Name: "A", MaxSubs: 10, MaxPayload: 512},
			{Name: "B", Users: []*conf.User{{Username: "dave", Password: "dpw"}}},
		},
	}
	a := mustNew(t, opts)
	tests := []struct {
		creds   ConnectCreds
		ok      bool
		account string
		pubOK   string // a subject it may publish, if restricted
		pubNo   string // one it may not
		subNo   string
	}{
		{ConnectCreds{User: "alice", Pass: "pw"}, true, "$G", "orders.1", "other", ""},
		{ConnectCreds{User: "alice", Pass: "bad"}, false, "", "", "", ""},
		{ConnectCreds{User: "bob", Pass: "bpw"}, true, "$G", "anything", "", "private"},
		{ConnectCreds{User: "bob", Pass: "bpx"}, false, "", "", "", ""},
		{ConnectCreds{User: "carol", Pass: "cpw"}, true, "A", "x", "", "private"},
		{ConnectCreds{User: "dave", Pass: "dpw"}, true, "B", "x", "", ""},
		{ConnectCreds{User: "eve", Pass: "pw"}, false, "", "", "", ""},
		{ConnectCreds{}, false, "", "", "", ""},
		{ConnectCreds{Token: "pw"}, false, "", "", "", ""},
	}
	for _, tt := range tests {
		id, err := a.Authenticate(&tt.creds, "")
		if !tt.ok {
			wantAuthErr(t, err, ErrBadCredentials)
			continue
		}
		if err != nil {
			t.Fatalf("%+v: %v", tt.creds, err)
		}
		if id.Account != tt.account || id.Name != tt.creds.User || id.Method != MethodUser {
			t.Fatalf("%+v: identity %+v", tt.creds, id)
		}
		if tt.pubOK != "" && !id.Perms.CanPublish([]byte(tt.pubOK)) {
			t.Errorf("%s: publish %q denied", id.Name, tt.pubOK)
		}
		if tt.pubNo != "" && id.Perms.CanPublish([]byte(tt.pubNo)) {
			t.Errorf("%s: publish %q allowed", id.Name, tt.pubNo)
		}
		if tt.subNo != "" && id.Perms.CanSubscribe(tt.subNo, "") {
			t.Errorf("%s: subscribe %q allowed", id.Name, tt.subNo)
		}
	}
	// Account limits reach the identity; the server's max_payload caps them.
	id, _ := a.Authenticate(&ConnectCreds{User: "carol", Pass: "cpw"}, "")
	if id.MaxSubs != 10 || id.MaxPayload != 512 {
		t.Fatalf("carol limits %d/%d, want 10/512", id.MaxSubs, id.MaxPayload)
	}
	if !a.Required() || a.NeedNonce() {
		t.Fatal("users need auth and no nonce")
	}
}

func TestNkeyUsers(t *testing.T) {
	ukp, upub := keys(t, nkeys.CreateUser)
	other, _ := keys(t, nkeys.CreateUser)
	_, unknownPub := keys(t, nkeys.CreateUser)
	a := mustNew(t, &conf.Options{Authorization: conf.Authorization{Users: []*conf.User{
		{Nkey: upub, Permissions: &conf.Permissions{Subscribe: &conf.SubjectPermission{Deny: []string{"secret.>"}}}},
		{Username: "plain", Password: "pw"},
	}}})
	if !a.NeedNonce() || !a.Required() {
		t.Fatal("nkey users need a nonce")
	}
	nonce := a.NewNonce()
	raw, _ := ukp.Sign([]byte(nonce))
	tests := []struct {
		name  string
		creds ConnectCreds
		cause error
	}{
		{"signed", ConnectCreds{Nkey: upub, Sig: sign(t, ukp, nonce)}, nil},
		{"std base64", ConnectCreds{Nkey: upub, Sig: base64.StdEncoding.EncodeToString(raw)}, nil},
		{"missing sig", ConnectCreds{Nkey: upub}, ErrBadSignature},
		{"other key", ConnectCreds{Nkey: upub, Sig: sign(t, other, nonce)}, ErrBadSignature},
		{"other nonce", ConnectCreds{Nkey: upub, Sig: sign(t, ukp, "xxxxxxxxxxxxxxx")}, ErrBadSignature},
		{"tampered", ConnectCreds{Nkey: upub, Sig: tamper(sign(t, ukp, nonce))}, ErrBadSignature},
		{"garbage sig", ConnectCreds{Nkey: upub, Sig: "!!!"}, ErrBadSignature},
		{"unknown nkey", ConnectCreds{Nkey: unknownPub, Sig: sign(t, ukp, nonce)}, ErrBadCredentials},
		{"user alongside", ConnectCreds{User: "plain", Pass: "pw"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := a.Authenticate(&tt.creds, nonce)
			if tt.cause != nil {
				wantAuthErr(t, err, tt.cause)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.creds.Nkey != "" {
				if id.Name != upub || id.PubKey != upub || id.Method != MethodNkey {
					t.Fatalf("identity %+v", id)
				}
				if id.Perms.CanSubscribe("secret.x", "") {
					t.Fatal("nkey user permissions not applied")
				}
			}
		})
	}
}

// tamper flips one character in the middle of a base64 signature.
func tamper(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestNoAuthUser(t *testing.T) {
	ukp, upub := keys(t, nkeys.CreateUser)
	_ = ukp
	perms := &conf.Permissions{Publish: &conf.SubjectPermission{Allow: []string{"guest.>"}}}
	t.Run("user", func(t *testing.T) {
		a := mustNew(t, &conf.Options{
			NoAuthUser: "guest",
			Accounts: []*conf.Account{{Name: "A", Users: []*conf.User{
				{Username: "guest", Password: "gpw", Permissions: perms},
				{Username: "admin", Password: "apw"},
			}}},
		})
		if a.Required() {
			t.Fatal("auth_required must be false with no_auth_user")
		}
		id, err := a.Authenticate(&ConnectCreds{}, "")
		if err != nil {
			t.Fatal(err)
		}
		if id.Name != "guest" || id.Account != "A" || id.Method != MethodNoAuth || id.Perms.CanPublish([]byte("x")) {
			t.Fatalf("identity %+v", id)
		}
		// Credentials given are checked, not replaced by the no_auth_user.
		if _, err := a.Authenticate(&ConnectCreds{User: "admin", Pass: "bad"}, ""); err == nil {
			t.Fatal("wrong password accepted")
		}
		if id, err := a.Authenticate(&ConnectCreds{User: "admin", Pass: "apw"}, ""); err != nil || id.Name != "admin" {
			t.Fatalf("admin: %v %+v", err, id)
		}
	})
	t.Run("nkey", func(t *testing.T) {
		a := mustNew(t, &conf.Options{
			NoAuthUser:    upub,
			Authorization: conf.Authorization{Users: []*conf.User{{Nkey: upub}}},
		})
		id, err := a.Authenticate(&ConnectCreds{}, "nonce")
		if err != nil || id.Name != upub || id.Method != MethodNoAuth {
			t.Fatalf("%v %+v", err, id)
		}
	})
	t.Run("system account only", func(t *testing.T) {
		a := mustNew(t, &conf.Options{
			Accounts: []*conf.Account{{Name: "$SYS", Users: []*conf.User{{Username: "sys", Password: "s"}}}},
		})
		if !a.Required() {
			t.Fatal("users exist, auth is required")
		}
		id, err := a.Authenticate(&ConnectCreds{}, "")
		if err != nil || id.Account != conf.GlobalAccount {
			t.Fatalf("%v %+v", err, id)
		}
		if _, err := a.Authenticate(&ConnectCreds{User: "sys", Pass: "x"}, ""); err == nil {
			t.Fatal("wrong password accepted")
		}
		id, err = a.Authenticate(&ConnectCreds{User: "sys", Pass: "s"}, "")
		if err != nil || id.Account != "$SYS" || !id.AccountInfo.System {
			t.Fatalf("%v %+v", err, id)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	_, upub := keys(t, nkeys.CreateUser)
	tests := []struct {
		name string
		opts conf.Options
		want string
	}{
		{"token and user", conf.Options{Authorization: conf.Authorization{Token: "t", Username: "u", Password: "p"}},
			"Cannot have a user/pass and token"},
		{"user and users", conf.Options{Authorization: conf.Authorization{Username: "u", Users: []*conf.User{{Username: "a"}}}},
			"Can not have a single user/pass and a users array"},
		{"token and users", conf.Options{Authorization: conf.Authorization{Token: "t", Users: []*conf.User{{Username: "a"}}}},
			"Can not have a token and a users array"},
		{"token and accounts", conf.Options{Authorization: conf.Authorization{Token: "t"},
			Accounts: []*conf.Account{{Name: "A", Users: []*conf.User{{Username: "a"}}}}},
			"Can not have a token and accounts"},
		{"duplicate user", conf.Options{Authorization: conf.Authorization{Users: []*conf.User{{Username: "a"}}},
			Accounts: []*conf.Account{{Name: "A", Users: []*conf.User{{Username: "a"}}}}},
			`Duplicate user "a" detected`},
		{"duplicate nkey", conf.Options{Authorization: conf.Authorization{Users: []*conf.User{{Nkey: upub}, {Nkey: upub}}}},
			`Duplicate nkey`},
		{"bad nkey", conf.Options{Authorization: conf.Authorization{Users: []*conf.User{{Nkey: "UBAD"}}}},
			"Not a valid public nkey for a user"},
		{"bad permission", conf.Options{Authorization: conf.Authorization{Users: []*conf.User{{Username: "a",
			Permissions: &conf.Permissions{Publish: &conf.SubjectPermission{Allow: []string{"foo..bar"}}}}}}},
			`invalid permissions for user "a": publish allow: subject "foo..bar" is not a valid subject`},
		{"bad queue", conf.Options{Authorization: conf.Authorization{Users: []*conf.User{{Username: "a",
			Permissions: &conf.Permissions{Subscribe: &conf.SubjectPermission{Allow: []string{"foo q r"}}}}}}},
			`subscribe allow: subject "foo q r" is not a valid subject`},
		{"no_auth_user without users", conf.Options{NoAuthUser: "x"},
			`no_auth_user: "x" present, but users/nkeys are not defined`},
		{"no_auth_user unknown", conf.Options{NoAuthUser: "x", Authorization: conf.Authorization{Users: []*conf.User{{Username: "a"}}}},
			`no_auth_user: "x" not present as user or nkey in authorization block or account configuration`},
		{"unknown user account", conf.Options{Authorization: conf.Authorization{Users: []*conf.User{{Username: "a", Account: "Z"}}}},
			`unknown account: "Z"`},
		{"leaf user and users", conf.Options{LeafNode: conf.LeafNode{Username: "l", Users: []*conf.User{{Username: "m"}}}},
			"can not have a single user/pass and a users array"},
		{"leaf unknown account", conf.Options{LeafNode: conf.LeafNode{Username: "l", Account: "Z"}},
			`cannot find local account "Z" specified in leafnode authorization`},
		{"leaf duplicate", conf.Options{LeafNode: conf.LeafNode{Users: []*conf.User{{Username: "m"}, {Username: "m"}}}},
			`duplicate user "m" detected in leafnode authorization`},
		{"unknown system account", conf.Options{SystemAccount: "NOPE"}, "error resolving system account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&tt.opts)
			if err == nil {
				t.Fatalf("New succeeded, want %q", tt.want)
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
}

func TestWireText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fail(ErrExpired), WireAuthorization},
		{fail(ErrRevoked), WireAuthorization},
		{ErrExpired, WireUserExpired},
		{ErrAccountExpired, WireAccountExpired},
		{ErrRevoked, WireUserRevoked},
		{errors.New("other"), WireAuthorization},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := WireText(tt.err); got != tt.want {
			t.Errorf("WireText(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if got := string(AppendPublishViolation(nil, []byte("foo.bar"))); got != `Permissions Violation for Publish to "foo.bar"` {
		t.Errorf("publish violation %q", got)
	}
	if got := string(AppendSubscribeViolation(nil, "foo.*", "")); got != `Permissions Violation for Subscription to "foo.*"` {
		t.Errorf("subscribe violation %q", got)
	}
	if got := string(AppendSubscribeViolation(nil, "foo", "q")); got != `Permissions Violation for Subscription to "foo" using queue "q"` {
		t.Errorf("queue violation %q", got)
	}
	if got := string(AppendReplyViolation(nil, []byte("_INBOX.x"))); got != `Permissions Violation for Publish with Reply of "_INBOX.x"` {
		t.Errorf("reply violation %q", got)
	}
}

// TestAuthenticateConcurrent authenticates from several goroutines at once,
// as event loops do, for the race detector.
func TestAuthenticateConcurrent(t *testing.T) {
	ukp, upub := keys(t, nkeys.CreateUser)
	a := mustNew(t, &conf.Options{Authorization: conf.Authorization{Users: []*conf.User{
		{Nkey: upub}, {Username: "u", Password: "p"},
	}}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				nonce := a.NewNonce()
				c := ConnectCreds{User: "u", Pass: "p"}
				if g%2 == 0 {
					c = ConnectCreds{Nkey: upub, Sig: sign(t, ukp, nonce)}
				}
				if _, err := a.Authenticate(&c, nonce); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCostly(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(&conf.Options{Authorization: conf.Authorization{Users: []*conf.User{
		{Username: "plain", Password: "pw"},
		{Username: "hashed", Password: string(hash)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    ConnectCreds
		want bool
	}{
		{ConnectCreds{User: "plain", Pass: "pw"}, false},
		{ConnectCreds{User: "hashed", Pass: "pw"}, true},
		{ConnectCreds{User: "nobody", Pass: "pw"}, false},
		{ConnectCreds{Nkey: "UABC", Sig: "x"}, true},
		{ConnectCreds{JWT: "eyJ0"}, true},
		{ConnectCreds{}, false},
	} {
		if got := a.Costly(&tc.c); got != tc.want {
			t.Errorf("Costly(%+v) = %v, want %v", tc.c, got, tc.want)
		}
	}
	tok, err := New(&conf.Options{Authorization: conf.Authorization{Token: string(hash)}})
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Costly(&ConnectCreds{Token: "pw"}) {
		t.Error("a bcrypt token is not costly")
	}
}

// TestCostlyLeaf: a leaf's CONNECT is costly when the leafnodes block
// checks it against a bcrypt hash or a signature, or, when that block
// names nobody, when the client rules would.
func TestCostlyLeaf(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts conf.Options
		c    ConnectCreds
		want bool
	}{
		{"leaf user, plain", conf.Options{LeafNode: conf.LeafNode{Username: "l", Password: "pw"}}, ConnectCreds{User: "l", Pass: "pw"}, false},
		{"leaf user, bcrypt", conf.Options{LeafNode: conf.LeafNode{Username: "l", Password: string(hash)}}, ConnectCreds{User: "l", Pass: "pw"}, true},
		{"leaf users, bcrypt", conf.Options{LeafNode: conf.LeafNode{Users: []*conf.User{{Username: "l", Password: string(hash)}}}}, ConnectCreds{User: "l", Pass: "pw"}, true},
		{"leaf users, unknown", conf.Options{LeafNode: conf.LeafNode{Users: []*conf.User{{Username: "l", Password: string(hash)}}}}, ConnectCreds{User: "x", Pass: "pw"}, false},
		{"client token, bcrypt", conf.Options{Authorization: conf.Authorization{Token: string(hash)}}, ConnectCreds{Token: "pw"}, true},
		{"no auth", conf.Options{}, ConnectCreds{}, false},
	} {
		a, err := New(&tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := a.CostlyLeaf(&tc.c); got != tc.want {
			t.Errorf("%s: CostlyLeaf = %v, want %v", tc.name, got, tc.want)
		}
	}
}
