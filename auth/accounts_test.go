package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/canopy-nats/canopy/conf"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

func TestAccountsImportExport(t *testing.T) {
	opts := &conf.Options{Accounts: []*conf.Account{
		{Name: "A", Exports: []*conf.Export{
			{Subject: "public.>"},
			{Subject: "private.>", Accounts: []string{"B"}},
			{Subject: "svc.q", Service: true},
			{Subject: "svc.private.*", Service: true, Accounts: []string{"C"}},
		}},
		{Name: "B", Imports: []*conf.Import{
			{Account: "A", Subject: "public.news", Prefix: "a"},
			{Account: "A", Subject: "private.>"},
			{Account: "A", Subject: "svc.q", Service: true, To: "ask.a"},
		}},
		{Name: "C", Imports: []*conf.Import{
			{Account: "A", Subject: "svc.private.x", Service: true},
			{Account: "A", Subject: "public.a", To: "mine.a"},
		}},
	}}
	a := mustNew(t, opts)
	names := []string{}
	for _, acc := range a.Accounts() {
		names = append(names, acc.Name)
	}
	if strings.Join(names, ",") != "$G,$SYS,A,B,C" {
		t.Fatalf("accounts %v", names)
	}
	if sys, _ := a.LookupAccount("$SYS"); !sys.System || a.SystemAccount() != "$SYS" {
		t.Fatal("system account")
	}
	A, _ := a.LookupAccount("A")
	if len(A.Exports) != 4 || !A.Exports[0].Public() || A.Exports[1].Public() {
		t.Fatalf("exports %+v", A.Exports)
	}
	if !A.Exports[1].Allows("B") || A.Exports[1].Allows("C") || !A.Exports[0].Allows("anyone") {
		t.Fatal("Allows")
	}
	if got := A.Exports[3].ApprovedAccounts(); len(got) != 1 || got[0] != "C" {
		t.Fatalf("approved %v", got)
	}
	if e := A.Service("svc.private.y"); e == nil || e.Subject != "svc.private.*" || e.ResponseType != "Singleton" {
		t.Fatalf("Service lookup %+v", e)
	}
	if A.Service("public.x") != nil {
		t.Fatal("a stream is not a service")
	}
	B, _ := a.LookupAccount("B")
	want := []Import{
		{Account: "A", Subject: "public.news", To: "a.public.news", Prefix: "a"},
		{Account: "A", Subject: "private.>", To: "private.>"},
		{Account: "A", Subject: "svc.q", To: "ask.a", Service: true},
	}
	if len(B.Imports) != len(want) {
		t.Fatalf("B imports %+v", B.Imports)
	}
	for i, w := range want {
		g := B.Imports[i]
		if g.Account != w.Account || g.Subject != w.Subject || g.To != w.To || g.Service != w.Service || g.Prefix != w.Prefix || g.Export == nil {
			t.Errorf("import %d: %+v, want %+v", i, g, w)
		}
	}
	C, _ := a.LookupAccount("C")
	if len(C.Imports) != 2 || C.Imports[0].To != "svc.private.x" || C.Imports[1].To != "mine.a" {
		t.Fatalf("C imports %+v", C.Imports)
	}
}

func TestAccountsErrors(t *testing.T) {
	acc := func(name string, ex []*conf.Export, im []*conf.Import) *conf.Account {
		return &conf.Account{Name: name, Exports: ex, Imports: im}
	}
	tests := []struct {
		name     string
		accounts []*conf.Account
		want     string
		cause    error
	}{
		{"unknown exporter", []*conf.Account{acc("B", nil, []*conf.Import{{Account: "Z", Subject: "x"}})},
			`"Z" account not defined for stream import`, nil},
		{"unknown service exporter", []*conf.Account{acc("B", nil, []*conf.Import{{Account: "Z", Subject: "x", Service: true}})},
			`"Z" account not defined for service import`, nil},
		{"unknown export account", []*conf.Account{acc("A", []*conf.Export{{Subject: "x", Accounts: []string{"Z"}}}, nil)},
			`"Z" account not defined for stream export`, nil},
		{"no export", []*conf.Account{acc("A", nil, nil), acc("B", nil, []*conf.Import{{Account: "A", Subject: "x"}})},
			`Error adding stream import "x": stream import not authorized`, ErrStreamImportAuthorization},
		{"not approved", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "x", Accounts: []string{"C"}}}, nil), acc("C", nil, nil),
			acc("B", nil, []*conf.Import{{Account: "A", Subject: "x"}})},
			"stream import not authorized", ErrStreamImportAuthorization},
		{"service not approved", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "q", Service: true, Accounts: []string{"C"}}}, nil), acc("C", nil, nil),
			acc("B", nil, []*conf.Import{{Account: "A", Subject: "q", Service: true}})},
			`Error adding service import "q": service import not authorized`, ErrServiceImportAuthorization},
		{"stream export does not serve services", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "q"}}, nil),
			acc("B", nil, []*conf.Import{{Account: "A", Subject: "q", Service: true}})},
			"service import not authorized", ErrServiceImportAuthorization},
		{"import wider than export", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "a.b"}}, nil),
			acc("B", nil, []*conf.Import{{Account: "A", Subject: "a.*"}})},
			"stream import not authorized", ErrStreamImportAuthorization},
		{"wildcard prefix", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "x.>"}}, nil),
			acc("B", nil, []*conf.Import{{Account: "A", Subject: "x.>", Prefix: "p.*"}})},
			"stream import prefix can not contain wildcard tokens", ErrStreamImportBadPrefix},
		{"prefix and to", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "x"}}, nil),
			acc("B", nil, []*conf.Import{{Account: "A", Subject: "x", Prefix: "p", To: "y"}})},
			"Stream import can not have a 'prefix' and a 'to' property", nil},
		{"duplicate stream import", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "x"}}, nil),
			acc("B", nil, []*conf.Import{{Account: "A", Subject: "x"}, {Account: "A", Subject: "x", Prefix: "p"}})},
			"stream import already exists", ErrStreamImportDuplicate},
		{"service cycle", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "q", Service: true}}, []*conf.Import{{Account: "B", Subject: "q", Service: true}}),
			acc("B", []*conf.Export{{Subject: "q", Service: true}}, []*conf.Import{{Account: "A", Subject: "q", Service: true}})},
			"import forms a cycle", ErrImportFormsCycle},
		{"stream cycle", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "s"}}, []*conf.Import{{Account: "B", Subject: "s"}}),
			acc("B", []*conf.Export{{Subject: "s"}}, []*conf.Import{{Account: "A", Subject: "s"}})},
			"import forms a cycle", ErrImportFormsCycle},
		{"wildcard mapping", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "x.>", Service: true}}, nil),
			acc("B", nil, []*conf.Import{{Account: "A", Subject: "x.>", Service: true, To: "y.>"}})},
			"is not supported", nil},
		{"empty accounts list means token required", []*conf.Account{
			acc("A", []*conf.Export{{Subject: "x", Accounts: []string{}}}, nil),
			acc("B", nil, []*conf.Import{{Account: "A", Subject: "x"}})},
			"stream import not authorized", ErrStreamImportAuthorization},
		{"bad export subject", []*conf.Account{acc("A", []*conf.Export{{Subject: "a..b"}}, nil)},
			`Error adding stream export "a..b"`, ErrInvalidSubject},
		{"duplicate account", []*conf.Account{acc("A", nil, nil), acc("A", nil, nil)}, `duplicate account "A"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&conf.Options{Accounts: tt.accounts})
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Fatalf("error %v does not wrap %v", err, tt.cause)
			}
		})
	}
}

func TestAccountPositionExport(t *testing.T) {
	opts := &conf.Options{Accounts: []*conf.Account{
		{Name: "A", Exports: []*conf.Export{{Subject: "x.*"}}},
	}}
	a := mustNew(t, opts)
	A, _ := a.LookupAccount("A")
	e := A.Exports[0]
	// Position-bound exports only come from JWTs; exercise the helper.
	e2 := *e
	e2.AccountTokenPosition = 2
	if !e2.AllowsSubject("B", "x.B") || e2.AllowsSubject("B", "x.C") || e2.Allows("B") || e2.Public() {
		t.Fatal("account token position")
	}
}

func TestLeafAuthentication(t *testing.T) {
	lkp, lpub := keys(t, nkeys.CreateUser)
	userPerms := &conf.Permissions{Publish: sp([]string{"up.>"}, nil), Subscribe: sp([]string{"down.>"}, nil)}
	tests := []struct {
		name    string
		opts    conf.Options
		creds   func(nonce string) ConnectCreds
		account string // "" means failure
		perms   bool
	}{
		{"no auth anywhere", conf.Options{}, func(string) ConnectCreds { return ConnectCreds{} }, "$G", false},
		{"no auth, leaf account", conf.Options{Accounts: []*conf.Account{{Name: "L"}}, LeafNode: conf.LeafNode{Account: "L"}},
			func(string) ConnectCreds { return ConnectCreds{User: "any"} }, "L", false},
		{"single user", conf.Options{Accounts: []*conf.Account{{Name: "L"}},
			LeafNode: conf.LeafNode{Username: "leaf", Password: "lpw", Account: "L"}},
			func(string) ConnectCreds { return ConnectCreds{User: "leaf", Pass: "lpw"} }, "L", false},
		{"single user wrong", conf.Options{LeafNode: conf.LeafNode{Username: "leaf", Password: "lpw"}},
			func(string) ConnectCreds { return ConnectCreds{User: "leaf", Pass: "x"} }, "", false},
		{"single user default $G", conf.Options{LeafNode: conf.LeafNode{Username: "leaf", Password: hash(t, "lpw")}},
			func(string) ConnectCreds { return ConnectCreds{User: "leaf", Pass: "lpw"} }, "$G", false},
		{"leaf users", conf.Options{Accounts: []*conf.Account{{Name: "L"}},
			LeafNode: conf.LeafNode{Users: []*conf.User{{Username: "l1", Password: "p1", Account: "L"}, {Username: "l2", Password: "p2"}}}},
			func(string) ConnectCreds { return ConnectCreds{User: "l1", Pass: "p1"} }, "L", false},
		{"leaf users default", conf.Options{LeafNode: conf.LeafNode{Users: []*conf.User{{Username: "l2", Password: "p2"}}}},
			func(string) ConnectCreds { return ConnectCreds{User: "l2", Pass: "p2"} }, "$G", false},
		{"leaf users unknown", conf.Options{LeafNode: conf.LeafNode{Users: []*conf.User{{Username: "l2", Password: "p2"}}}},
			func(string) ConnectCreds { return ConnectCreds{User: "l3", Pass: "p2"} }, "", false},
		{"leaf nkey", conf.Options{LeafNode: conf.LeafNode{Nkey: lpub}},
			func(n string) ConnectCreds { return ConnectCreds{Nkey: lpub, Sig: sign(t, lkp, n)} }, "$G", false},
		{"leaf nkey bad sig", conf.Options{LeafNode: conf.LeafNode{Nkey: lpub}},
			func(n string) ConnectCreds { return ConnectCreds{Nkey: lpub, Sig: sign(t, lkp, "other")} }, "", false},
		{"client token", conf.Options{Authorization: conf.Authorization{Token: "tok"}},
			func(string) ConnectCreds { return ConnectCreds{Token: "tok"} }, "$G", false},
		{"client token wrong", conf.Options{Authorization: conf.Authorization{Token: "tok"}},
			func(string) ConnectCreds { return ConnectCreds{Token: "bad"} }, "", false},
		{"client user with permissions", conf.Options{Accounts: []*conf.Account{{Name: "A",
			Users: []*conf.User{{Username: "u", Password: "p", Permissions: userPerms}}}}},
			func(string) ConnectCreds { return ConnectCreds{User: "u", Pass: "p"} }, "A", true},
		{"client user not for leafs", conf.Options{Authorization: conf.Authorization{Users: []*conf.User{
			{Username: "u", Password: "p", AllowedConnectionTypes: []string{"standard"}}}}},
			func(string) ConnectCreds { return ConnectCreds{User: "u", Pass: "p"} }, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, &tt.opts)
			nonce := NewNonce()
			c := tt.creds(nonce)
			id, err := a.AuthenticateLeaf(&c, nonce)
			if tt.account == "" {
				wantAuthErr(t, err, nil)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Account != tt.account || (id.Perms != nil) != tt.perms {
				t.Fatalf("identity %+v", id)
			}
		})
	}

	// A client-only user may not connect as a leaf and vice versa.
	a := mustNew(t, &conf.Options{Authorization: conf.Authorization{Users: []*conf.User{
		{Username: "leafonly", Password: "p", AllowedConnectionTypes: []string{"LEAFNODE"}}}}})
	_, err := a.Authenticate(&ConnectCreds{User: "leafonly", Pass: "p"}, "")
	wantAuthErr(t, err, ErrConnectionType)
	if _, err := a.AuthenticateLeaf(&ConnectCreds{User: "leafonly", Pass: "p"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := New(&conf.Options{Authorization: conf.Authorization{Users: []*conf.User{
		{Username: "u", AllowedConnectionTypes: []string{"CARRIER_PIGEON"}}}}}); err == nil {
		t.Fatal("unknown connection type accepted")
	}
}

func TestLeafAuthenticationOperator(t *testing.T) {
	env := newOperatorEnv(t)
	akp, apub := keys(t, nkeys.CreateAccount)
	env.addAccount(t, apub, "A", nil, env.op)
	opts := env.options(t, nil)
	a := mustNew(t, opts)
	nonce := NewNonce()
	tok, ukp, _ := userJWT(t, akp, apub, func(uc *jwt.UserClaims) { uc.Sub.Allow.Add("down.>") })
	id, err := a.AuthenticateLeaf(&ConnectCreds{JWT: tok, Sig: sign(t, ukp, nonce)}, nonce)
	if err != nil || id.Account != apub || !id.Perms.CanSubscribe("down.x", "") {
		t.Fatalf("%v %+v", err, id)
	}
	// Leafnode single user bound to an account key.
	opts.LeafNode = conf.LeafNode{Username: "l", Password: "p", Account: apub}
	a = mustNew(t, opts)
	if id, err := a.AuthenticateLeaf(&ConnectCreds{User: "l", Pass: "p"}, nonce); err != nil || id.Account != apub {
		t.Fatalf("%v %+v", err, id)
	}
	// An account key nobody preloaded fails the leaf, not the config.
	opts.LeafNode.Account = "ANOTHER"
	a = mustNew(t, opts)
	_, err = a.AuthenticateLeaf(&ConnectCreds{User: "l", Pass: "p"}, nonce)
	wantAuthErr(t, err, ErrUnknownAccount)
}
