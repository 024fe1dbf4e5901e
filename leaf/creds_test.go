package leaf_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// operatorSetup is an operator with a system account and an account A
// holding two users: leafu, allowed to publish up.> and subscribe down.>,
// whose credentials file makes the leaf link, and admin, allowed anything,
// for the hub's clients.
type operatorSetup struct {
	hubConf    string // the hub's operator, resolver and preload settings
	account    string // A's public key
	leafCreds  string
	adminCreds string
}

func newOperatorSetup(t *testing.T) *operatorSetup {
	t.Helper()
	dir := t.TempDir()
	op := newKey(t, nkeys.CreateOperator)
	sys := newKey(t, nkeys.CreateAccount)
	acc := newKey(t, nkeys.CreateAccount)
	opPub, sysPub, accPub := pub(t, op), pub(t, sys), pub(t, acc)

	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "OP"
	oc.SystemAccount = sysPub
	opJWT := encode(t, oc, op)
	opFile := filepath.Join(dir, "op.jwt")
	if err := os.WriteFile(opFile, []byte(opJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	sc := jwt.NewAccountClaims(sysPub)
	sc.Name = "SYS"
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "A"

	user := func(name string, edit func(*jwt.UserClaims)) string {
		u := newKey(t, nkeys.CreateUser)
		uc := jwt.NewUserClaims(pub(t, u))
		uc.Name = name
		if edit != nil {
			edit(uc)
		}
		seed, err := u.Seed()
		if err != nil {
			t.Fatal(err)
		}
		creds, err := jwt.FormatUserConfig(encode(t, uc, acc), seed)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".creds")
		if err := os.WriteFile(path, creds, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return &operatorSetup{
		hubConf: fmt.Sprintf(`
operator: %q
system_account: %s
resolver: MEMORY
resolver_preload: {
  %s: %q
  %s: %q
}
`, opFile, sysPub, sysPub, encode(t, sc, op), accPub, encode(t, ac, op)),
		account: accPub,
		leafCreds: user("leafu", func(uc *jwt.UserClaims) {
			uc.Pub.Allow.Add("up.>")
			uc.Sub.Allow.Add("down.>")
		}),
		adminCreds: user("admin", nil),
	}
}

func newKey(t *testing.T, create func() (nkeys.KeyPair, error)) nkeys.KeyPair {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func pub(t *testing.T, kp nkeys.KeyPair) string {
	t.Helper()
	p, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func encode(t *testing.T, c jwt.Claims, kp nkeys.KeyPair) string {
	t.Helper()
	tok, err := c.Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestLeafCredentials is scenario 19 in each pairing: a leaf whose remote
// has a credentials file, to a hub in operator mode. The link binds to the
// user's account, and the user's JWT permissions become the link's import
// and export lists.
func TestLeafCredentials(t *testing.T) {
	t.Parallel()
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			op := newOperatorSetup(t)
			hub, lf := hubLeaf(t, p, op.hubConf, "", fmt.Sprintf("credentials: %q", op.leafCreds), "")
			for _, l := range hub.Links() {
				if l.Account != op.account {
					t.Fatalf("hub bound the link to %q, want the user's account %q", l.Account, op.account)
				}
			}
			hc := connect(t, hub, "", nats.UserCredentials(op.adminCreds))
			lc := connect(t, lf, "")
			testLinkPermissions(t, hub, lf, hc, lc)
		})
	}
}
