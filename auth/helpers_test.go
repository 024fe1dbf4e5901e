package auth

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canopy-nats/canopy/conf"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// keys creates a key pair of the given kind.
func keys(t testing.TB, create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

// sign signs nonce with kp the way nats.go does (RawURL base64).
func sign(t testing.TB, kp nkeys.KeyPair, nonce string) string {
	t.Helper()
	sig, err := kp.Sign([]byte(nonce))
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sig)
}

func hash(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func mustNew(t testing.TB, o *conf.Options) *Authenticator {
	t.Helper()
	a, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// wantAuthErr checks an authentication failure: it must wrap
// ErrAuthorization (the wire text) and, if given, the specific cause.
func wantAuthErr(t testing.TB, err error, cause error) {
	t.Helper()
	if err == nil {
		t.Fatal("authenticated, want failure")
	}
	if !errors.Is(err, ErrAuthorization) || WireText(err) != WireAuthorization {
		t.Fatalf("error %v does not map to %q", err, WireAuthorization)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("error %v does not wrap %v", err, cause)
	}
}

// operatorEnv is an operator with accounts and users, built with the real
// nkeys and jwt libraries.
type operatorEnv struct {
	op      nkeys.KeyPair
	opPub   string
	opSK    nkeys.KeyPair // operator signing key
	opSKPub string
	sysPub  string
	preload map[string]string
}

func newOperatorEnv(t testing.TB) *operatorEnv {
	t.Helper()
	e := &operatorEnv{preload: map[string]string{}}
	e.op, e.opPub = keys(t, nkeys.CreateOperator)
	e.opSK, e.opSKPub = keys(t, nkeys.CreateOperator)
	sys, sysPub := keys(t, nkeys.CreateAccount)
	_ = sys
	e.sysPub = sysPub
	e.addAccount(t, sysPub, "SYS", nil, e.op)
	return e
}

// operatorJWT encodes the operator claims, with optional edits.
func (e *operatorEnv) operatorJWT(t testing.TB, edit func(*jwt.OperatorClaims)) string {
	t.Helper()
	oc := jwt.NewOperatorClaims(e.opPub)
	oc.Name = "OP"
	oc.SigningKeys.Add(e.opSKPub)
	oc.SystemAccount = e.sysPub
	if edit != nil {
		edit(oc)
	}
	tok, err := oc.Encode(e.op)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// addAccount signs an account JWT with signer and preloads it.
func (e *operatorEnv) addAccount(t testing.TB, pub, name string, edit func(*jwt.AccountClaims), signer nkeys.KeyPair) string {
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
	e.preload[pub] = tok
	return tok
}

func (e *operatorEnv) options(t testing.TB, edit func(*jwt.OperatorClaims)) *conf.Options {
	return &conf.Options{
		TrustedOperators: []string{e.operatorJWT(t, edit)},
		Resolver:         "MEMORY",
		ResolverPreload:  e.preload,
	}
}

// userJWT issues a user JWT with signer for account acc (issuer_account set
// when signer is not the account key).
func userJWT(t testing.TB, signer nkeys.KeyPair, acc string, edit func(*jwt.UserClaims)) (string, nkeys.KeyPair, string) {
	t.Helper()
	ukp, upub := keys(t, nkeys.CreateUser)
	uc := jwt.NewUserClaims(upub)
	uc.Name = "alice"
	if spub, _ := signer.PublicKey(); spub != acc {
		uc.IssuerAccount = acc
	}
	if edit != nil {
		edit(uc)
	}
	tok, err := uc.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	return tok, ukp, upub
}

// credsRoundTrip writes a creds file with jwt.FormatUserConfig and reads
// it back the way nats.go's UserCredentials does, returning the JWT and a
// signature over nonce.
func credsRoundTrip(t testing.TB, tok string, ukp nkeys.KeyPair, nonce string) (string, string) {
	t.Helper()
	seed, err := ukp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	data, err := jwt.FormatUserConfig(tok, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gotJWT, err := jwt.ParseDecoratedJWT(raw)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return gotJWT, sign(t, kp, nonce)
}

// fakeClock is a settable clock for reply expiry.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
