package conf

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// TestCrossKeyErrors checks the errors Validate finds in loaded files,
// placed at the key they are about.
func TestCrossKeyErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"token and user", "port: 1\nauthorization { token: t, user: u, password: p }", []string{
			`/tmp/x.conf:2:1: cannot have both a token and a user/password`,
		}},
		{"token and users", "authorization {\n  token: t\n  users: [ { user: u } ]\n}", []string{
			`/tmp/x.conf:1:0: cannot have both a token and a users list`,
		}},
		{"user and users", "authorization { user: a, password: b, users: [ { user: u } ] }", []string{
			`/tmp/x.conf:1:0: cannot have both a single user/password and a users list`,
		}},
		{"single user and account users", "authorization { user: a, password: b }\naccounts { A: { users: [ { user: u } ] } }", []string{
			`/tmp/x.conf:2:1: cannot have a single user/password in authorization and users in accounts`,
		}},
		{"token and account users", "authorization { token: t }\naccounts { A: { users: [ { user: u } ] } }", []string{
			`/tmp/x.conf:2:1: cannot have a token in authorization and users in accounts`,
		}},
		{"duplicate user", "authorization {\n  users: [ { user: u } ]\n}\naccounts { A: { users: [ { user: u } ] } }", []string{
			`/tmp/x.conf:4:1: duplicate user "u"`,
		}},
		{"no_auth_user unknown", "authorization { users: [ { user: u } ] }\nno_auth_user: v", []string{
			`/tmp/x.conf:2:1: no_auth_user "v" is not a user or nkey of the authorization block or of an account`,
		}},
		{"no_auth_user without users", "no_auth_user: v", []string{
			`/tmp/x.conf:1:0: no_auth_user "v" is set, but no users are defined`,
		}},
		{"payload above pending", "max_pending: 1MB\nmax_payload: 2MB", []string{
			`/tmp/x.conf:2:1: max_payload (2097152) cannot be larger than max_pending (1048576)`,
		}},
		{"payload above default pending", "max_payload: 100MB", []string{
			`/tmp/x.conf:1:0: max_payload (104857600) cannot be larger than max_pending (67108864)`,
		}},
		{"lame duck grace", `lame_duck_duration: "30s"` + "\n" + `lame_duck_grace_period: "30s"`, []string{
			`/tmp/x.conf:2:1: lame duck grace period (30s) must be shorter than the lame duck duration (30s)`,
		}},
		{"system account", "accounts: [A]\nsystem_account: B", []string{
			`/tmp/x.conf:2:1: system account "B" is not a configured account`,
		}},
		{"system account $SYS undefined", "system_account: \"$SYS\"", []string{
			`/tmp/x.conf:1:0: system account "$SYS" is not a configured account`,
		}},
		{"import from nowhere", "accounts {\n  A: { imports: [ { stream: { account: Z, subject: x } } ] }\n}", []string{
			`/tmp/x.conf:1:0: "Z" account not defined for stream import`,
		}},
		{"import not exported", "accounts {\n  A: { exports: [ { stream: \"a.*\" } ] }\n  B: { imports: [ { stream: { account: A, subject: \"a.>\" } } ] }\n}", []string{
			`/tmp/x.conf:1:0: Error adding stream import "a.>": stream import not authorized`,
		}},
		{"import of a private export", "accounts {\n  A: { exports: [ { service: \"help\", accounts: [C] } ] }\n  B: { imports: [ { service: { account: A, subject: help } } ] }\n  C: {}\n}", []string{
			`/tmp/x.conf:1:0: Error adding service import "help": service import not authorized`,
		}},
		{"export to nowhere", "accounts { A: { exports: [ { stream: a, accounts: [Z] } ] } }", []string{
			`/tmp/x.conf:1:0: account "A" exports "a" to account "Z", which is not defined`,
		}},
		{"service imported twice", "accounts {\n  A: { exports: [ { service: \"h.*\" } ] }\n  B: { imports: [ { service: { account: A, subject: h.1 }, to: h }, { service: { account: A, subject: h.2 }, to: h } ] }\n}", []string{
			`/tmp/x.conf:1:0: account "B" imports service subject "h" twice from account "A"`,
		}},
		{"leaf users and user", "leafnodes {\n  authorization { user: a, password: b, users: [ { user: c, password: d } ] }\n}", []string{
			`/tmp/x.conf:2:3: cannot have both a single user/password and a users list`,
		}},
		{"leaf duplicate users", "leafnodes {\n  authorization {\n    users: [ { user: c }, { user: c } ]\n  }\n}", []string{
			`/tmp/x.conf:3:5: duplicate user "c" in leafnode authorization`,
		}},
		{"leaf account", "leafnodes {\n  authorization { user: a, password: b, account: NOPE }\n}", []string{
			`/tmp/x.conf:2:3: leafnode authorization names account "NOPE", which is not defined`,
		}},
		{"leaf user account", "leafnodes { authorization { users: [ { user: a, account: NOPE } ] } }", []string{
			`/tmp/x.conf:1:28: leafnode user "a" names account "NOPE", which is not defined`,
		}},
		{"remote account", "leafnodes {\n  remotes: [ { url: \"nats://u:p@hub\", account: NOPE } ]\n}", []string{
			`/tmp/x.conf:2:3: leafnode remote [nats://[REDACTED]@hub:7422] account "NOPE": that account is not defined`,
		}},
		{"duplicate remotes", "leafnodes {\n  remotes: [ { url: \"nats://hub\" }, { url: \"nats://hub:7422\" } ]\n}", []string{
			`/tmp/x.conf:2:3: duplicate leafnode remote [nats://hub:7422] account "$G"`,
		}},
		{"creds and seed", "leafnodes { remotes: [ { url: \"nats://hub\", credentials: /a.creds\n  seed: SUAD4JYZTU2RAEKJRH6FGG6ARFNKLT5FP5J4APZGPU5TXWQAREZ2JGWOQM } ] }", []string{
			`/tmp/x.conf:2:3: a remote cannot have both credentials and an nkey seed`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorLines(t, tt.data)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestValidCrossKeyConfigs are combinations that must stay accepted.
func TestValidCrossKeyConfigs(t *testing.T) {
	for _, data := range []string{
		"authorization { users: [ { user: u } ] }\nno_auth_user: u",
		"accounts { A: { users: [ { user: u } ] } }\nno_auth_user: u",
		"authorization { users: [ { nkey: UBCVX7GX3G3KX34MQQ62NFUHW7OQV2RPOJNHNKSC5Z3HZZJXGMN6R33R } ] }\nno_auth_user: UBCVX7GX3G3KX34MQQ62NFUHW7OQV2RPOJNHNKSC5Z3HZZJXGMN6R33R",
		"leafnodes { remotes: [ { url: \"nats://hub\", account: \"$SYS\" } ] }",
		"accounts { \"$SYS\": { users: [ { user: admin } ] } }\nsystem_account: \"$SYS\"",
		"accounts { A: { exports: [ { stream: \">\" } ] }, B: { imports: [ { stream: { account: A, subject: \"x.*\" } } ] } }",
		"accounts { A: { exports: [ { service: \"s.>\", accounts: [B] } ] }, B: { imports: [ { service: { account: A, subject: s.1 } }, { service: { account: A, subject: s.2 } } ] } }",
		"leafnodes { remotes: [ { url: \"nats://hub\" }, { url: \"nats://hub\", account: A } ] }\naccounts: [A]",
		"leafnodes { remotes: [ { url: \"nats://hub\", seed: SUAD4JYZTU2RAEKJRH6FGG6ARFNKLT5FP5J4APZGPU5TXWQAREZ2JGWOQM }, { url: \"nats://hub\", seed: SUACVA2UHGAJYPXMJVFIECAMKLXT7XTLTGHVPPBLEYMY4VT2TD6FTISK6M } ] }",
	} {
		mustParse(t, data)
	}
}

func TestValidateProgrammatic(t *testing.T) {
	if err := (&Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	var o Options
	o.Normalize()
	if err := o.Validate(); err != nil {
		t.Errorf("normalized zero Options: %v", err)
	}
	o = Options{
		Authorization: Authorization{Token: "t", Username: "u"},
		MaxPayload:    10,
		MaxPending:    5,
		LeafNode: LeafNode{Remotes: []*Remote{
			{URLs: []*url.URL{{Scheme: "tls", Host: "hub:7422"}}, TLS: &TLS{CertFile: "c.pem"}},
			{URLs: []*url.URL{{Scheme: "http", Host: "hub:443"}}},
		}},
	}
	err := o.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"max_payload (10) cannot be larger than max_pending (5)",
		"cannot have both a token and a user/password",
		`leafnode remote [tls://hub:7422] account "$G": tls: missing 'key_file' in TLS configuration`,
		`leafnode remote [http://hub:443] account "$G": scheme "http" is not supported (use nats-leaf://, nats://, tls://, ws:// or wss://)`,
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var e *Error
	if !errors.As(err, &e) || e.Key != "max_payload" {
		t.Errorf("first error %+v", e)
	}
	o = Options{Authorization: Authorization{Users: []*User{{Username: "u", Permissions: &Permissions{
		Subscribe: &SubjectPermission{Deny: []string{"a b c"}},
	}}}}}
	if err := o.Validate(); err == nil || err.Error() != `invalid permissions for user "u": subscribe: subject "a b c" is not a valid subject` {
		t.Errorf("bad permission: %v", err)
	}
}

// operatorFixture is an operator JWT written to a file, with an account
// and a system account signed by the operator.
type operatorFixture struct {
	path, inline  string
	account       string // account public key
	accountJWT    string
	systemAccount string
	systemJWT     string
}

func newOperatorFixture(t *testing.T, decorated bool) operatorFixture {
	t.Helper()
	okp, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	opub, _ := okp.PublicKey()
	account := func(name string) (string, string) {
		kp, err := nkeys.CreateAccount()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		ac := jwt.NewAccountClaims(pub)
		ac.Name = name
		tok, err := ac.Encode(okp)
		if err != nil {
			t.Fatal(err)
		}
		return pub, tok
	}
	apub, atok := account("A")
	spub, stok := account("SYS")

	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "test-operator"
	oc.SystemAccount = spub
	otok, err := oc.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte(otok + "\n")
	if decorated {
		if content, err = jwt.DecorateJWT(otok); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "op.jwt")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return operatorFixture{
		path: path, inline: otok, account: apub, accountJWT: atok,
		systemAccount: spub, systemJWT: stok,
	}
}

// preload is a resolver_preload block with both accounts.
func (f operatorFixture) preload() string {
	return "\nresolver_preload: {\n  " + f.account + ": " + quote(f.accountJWT) +
		"\n  " + f.systemAccount + ": " + quote(f.systemJWT) + "\n}\n"
}

func TestOperatorMode(t *testing.T) {
	for _, decorated := range []bool{false, true} {
		f := newOperatorFixture(t, decorated)
		data := "operator: " + quote(f.path) + "\nresolver: MEMORY" + f.preload() +
			"leafnodes { remotes: [ { url: \"nats://hub\", account: " + f.account + " } ] }\n"
		o := mustParse(t, data)
		if len(o.TrustedOperators) != 1 || o.TrustedOperators[0] != f.inline {
			t.Errorf("decorated=%v: operators %q", decorated, o.TrustedOperators)
		}
		if o.Resolver != "MEMORY" || o.ResolverPreload[f.account] != f.accountJWT || len(o.ResolverPreload) != 2 {
			t.Errorf("resolver %q preload %v", o.Resolver, o.ResolverPreload)
		}
		if o.SystemAccount != f.systemAccount {
			t.Errorf("system account %q, want the operator's %q", o.SystemAccount, f.systemAccount)
		}
	}

	f := newOperatorFixture(t, false)
	for _, data := range []string{
		"operator: " + f.inline + "\nresolver: mem" + f.preload(),
		"operators: [" + quote(f.path) + "]\nresolver: { type: MEMORY }" + f.preload(),
		"root_operators: " + quote(f.path) + "\nresolver: MEMORY\nsystem_account: " + f.systemAccount + f.preload(),
	} {
		o := mustParse(t, data)
		if len(o.TrustedOperators) != 1 || o.TrustedOperators[0] != f.inline || o.Resolver != "MEMORY" {
			t.Errorf("%s: %q %q", data, o.TrustedOperators, o.Resolver)
		}
	}
}

func TestOperatorModeErrors(t *testing.T) {
	f := newOperatorFixture(t, false)
	op := "operator: " + quote(f.path) + "\n"
	pre := f.preload()
	other, _ := nkeys.CreateAccount()
	otherPub, _ := other.PublicKey()
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"no resolver", op, []string{
			`/tmp/x.conf:1:0: operator mode needs an account resolver: Canopy supports resolver: MEMORY with resolver_preload, or a full or cache resolver block`,
		}},
		{"accounts", op + "resolver: MEMORY\naccounts: [A]" + pre, []string{
			`/tmp/x.conf:3:1: accounts cannot be configured directly with trusted operators`,
		}},
		{"users", op + "resolver: MEMORY\nauthorization { users: [ { user: u } ] }" + pre, []string{
			`/tmp/x.conf:3:1: users cannot be configured directly with trusted operators`,
		}},
		{"trusted too", op + "resolver: MEMORY\ntrusted: [OAWXKRLIWLSDQIREU62VC524WI6UXYNTL7SRKUCDNYKNGS6DROXAX6OW]" + pre, []string{
			`/tmp/x.conf:3:1: cannot have both trusted keys and trusted operators`,
		}},
		{"system account mismatch", op + "resolver: MEMORY\nsystem_account: " + otherPub + pre, []string{
			`/tmp/x.conf:3:1: system_account "` + otherPub + `" is not the one the operator JWT names (` + f.systemAccount + `)`,
			`/tmp/x.conf:4:1: system account ` + otherPub + ` is not in resolver_preload; the MEMORY resolver knows only preloaded accounts`,
		}},
		{"no_auth_user", op + "resolver: MEMORY\nno_auth_user: u" + pre, []string{
			`/tmp/x.conf:3:1: no_auth_user cannot be used with trusted operators`,
		}},
		{"remote account name", op + "resolver: MEMORY\nleafnodes {\n  remotes: [ { url: \"nats://hub\" } ]\n}" + pre, []string{
			`/tmp/x.conf:4:3: with trusted operators, leafnode remote [nats://hub:7422] account "$G" needs an account public key as its account`,
		}},
		{"missing file", "operator: /nonexistent/op.jwt", []string{
			`/tmp/x.conf:1:0: invalid value for "operator": cannot read operator JWT: open /nonexistent/op.jwt: no such file or directory`,
		}},
		{"account jwt as operator", "operator: " + f.accountJWT, []string{
			`/tmp/x.conf:1:0: invalid value for "operator": cannot read operator JWT: not operator claim`,
		}},
		{"bad trusted key", "trusted: " + f.account, []string{
			`/tmp/x.conf:1:0: invalid value for "trusted": "` + f.account + `" is not a valid public operator nkey`,
		}},
		{"bad preload", op + "resolver: MEMORY\nresolver_preload: { " + f.account + ": notajwt }", []string{
			`/tmp/x.conf:3:21: invalid value for "` + f.account + `": invalid account JWT: expected 3 chunks`,
		}},
		{"system account not preloaded", op + "resolver: MEMORY\nresolver_preload: { " + f.account + ": " + quote(f.accountJWT) + " }", []string{
			`/tmp/x.conf:3:1: system account ` + f.systemAccount + ` is not in resolver_preload; the MEMORY resolver knows only preloaded accounts`,
		}},
		{"resolver word", "resolver: DISK", []string{
			`/tmp/x.conf:1:0: invalid value for "resolver": unknown resolver "DISK"; Canopy supports MEMORY, or a block of type full or cache`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorLines(t, tt.data)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestTrustedKeys(t *testing.T) {
	o := mustParse(t, "trusted_keys: [OAWXKRLIWLSDQIREU62VC524WI6UXYNTL7SRKUCDNYKNGS6DROXAX6OW]")
	if !reflect.DeepEqual(o.TrustedKeys, []string{"OAWXKRLIWLSDQIREU62VC524WI6UXYNTL7SRKUCDNYKNGS6DROXAX6OW"}) {
		t.Errorf("trusted keys %q", o.TrustedKeys)
	}
}

func TestSubsetOf(t *testing.T) {
	tests := []struct {
		sub, super string
		want       bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.*", true},
		{"a.b", "a.>", true},
		{"a.*", "a.>", true},
		{"a.>", "a.>", true},
		{"a.b.c", ">", true},
		{"a", "a.>", false},
		{"a.>", "a.*", false},
		{"a.*", "a.b", false},
		{"a.b", "a.c", false},
		{"a.b.c", "a.*", false},
		{"*", "a", false},
	}
	for _, tt := range tests {
		if got := subsetOf(tt.sub, tt.super); got != tt.want {
			t.Errorf("subsetOf(%q, %q) = %v, want %v", tt.sub, tt.super, got, tt.want)
		}
	}
}

func TestValidSubject(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "a.b": true, "*": true, ">": true, "a.*.c": true, "a.>": true, "$SYS.>": true,
		"": false, "a..b": false, ".a": false, "a.": false, "a.>.b": false, "a b": false, "a\tb": false,
	} {
		if got := validSubject(s); got != want {
			t.Errorf("validSubject(%q) = %v, want %v", s, got, want)
		}
	}
}
