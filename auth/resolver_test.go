package auth

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// TestDirStore: JWTs are saved as <key>.jwt and read back by a new store;
// an older or identical JWT does not replace the one stored; a full store
// refuses a new account and a cache drops its oldest; a delete renames the
// file, or removes it when deletes are hard; a file that does not hold its
// account's JWT is skipped with a warning.
func TestDirStore(t *testing.T) {
	e := newOperatorEnv(t)
	_, a := keys(t, nkeys.CreateAccount)
	_, b := keys(t, nkeys.CreateAccount)
	_, c := keys(t, nkeys.CreateAccount)
	ta := e.addAccount(t, a, "A", nil, e.op)
	tb := e.addAccount(t, b, "B", nil, e.op)
	tc := e.addAccount(t, c, "C", nil, e.op)
	dir := filepath.Join(t.TempDir(), "jwt")

	st, warns, err := OpenDirStore(dir, 2, false, false, 0)
	if err != nil || len(warns) > 0 {
		t.Fatalf("open: %v %v", err, warns)
	}
	for _, x := range []struct{ key, tok string }{{a, ta}, {b, tb}} {
		if changed, err := st.Save(x.key, x.tok); !changed || err != nil {
			t.Fatalf("save %s: %v %v", x.key, changed, err)
		}
	}
	if changed, err := st.Save(a, ta); changed || err != nil {
		t.Errorf("saving the same JWT again: changed %v, %v", changed, err)
	}
	if _, err := st.Save(c, tc); !errors.Is(err, ErrStoreFull) {
		t.Errorf("saving past the limit: %v", err)
	}
	if _, err := st.Save(a, tb); err == nil {
		t.Error("a JWT saved under another account's key")
	}
	if b, err := os.ReadFile(filepath.Join(dir, a+".jwt")); err != nil || string(b) != ta {
		t.Errorf("file of A: %v", err)
	}

	// A stray file, and one holding another account's JWT.
	if err := os.WriteFile(filepath.Join(dir, c+".jwt"), []byte(ta), 0o600); err != nil {
		t.Fatal(err)
	}
	st, warns, err = OpenDirStore(dir, 0, false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || st.Get(a) != ta || st.Get(b) != tb || st.Get(c) != "" {
		t.Errorf("reopened: warnings %v, list %v", warns, st.List())
	}
	if err := st.Delete(a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, a+".jwt.deleted")); err != nil || st.Get(a) != "" {
		t.Errorf("soft delete: %v", err)
	}

	cache, _, err := OpenDirStore(t.TempDir(), 1, true, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Save(a, ta); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Save(b, tb); err != nil {
		t.Fatal(err)
	}
	if got := cache.List(); len(got) != 1 || got[0] != b {
		t.Errorf("cache past its limit holds %v, want only %s", got, b)
	}
	if _, err := os.Stat(filepath.Join(cache.Dir(), a+".jwt")); !os.IsNotExist(err) {
		t.Errorf("evicted JWT still in the cache dir: %v", err)
	}
}

// TestCheckAccountJWT: a pushed JWT must be an account JWT signed by the
// operator or its signing key, valid (time aside, as nats-server's
// claimValidate), and signed by a signing key when the operator is strict;
// the errors are nats-server's.
func TestCheckAccountJWT(t *testing.T) {
	e := newOperatorEnv(t)
	a := mustNew(t, e.options(t, nil))
	_, pub := keys(t, nkeys.CreateAccount)
	if _, err := a.CheckAccountJWT(e.addAccount(t, pub, "A", nil, e.op)); err != nil {
		t.Errorf("signed by the operator: %v", err)
	}
	if _, err := a.CheckAccountJWT(e.addAccount(t, pub, "A", nil, e.opSK)); err != nil {
		t.Errorf("signed by its signing key: %v", err)
	}
	rogue, _ := keys(t, nkeys.CreateOperator)
	if _, err := a.CheckAccountJWT(e.addAccount(t, pub, "A", nil, rogue)); err == nil || err.Error() != "not trusted" {
		t.Errorf("signed by another operator: %v", err)
	}
	var verr *ValidationError
	bad := func(ac *jwt.AccountClaims) { ac.Exports.Add(&jwt.Export{Subject: "a..b", Type: jwt.Stream}) }
	if _, err := a.CheckAccountJWT(e.addAccount(t, pub, "A", bad, e.op)); !errors.As(err, &verr) {
		t.Errorf("invalid export: %v", err)
	}
	if _, err := a.CheckAccountJWT("eyJnotajwt"); err == nil {
		t.Error("garbage accepted")
	}
	e.addAccount(t, e.sysPub, "SYS", nil, e.opSK)
	delete(e.preload, pub)
	strict := mustNew(t, e.options(t, func(oc *jwt.OperatorClaims) { oc.StrictSigningKeyUsage = true }))
	if _, err := strict.CheckAccountJWT(e.addAccount(t, pub, "A", nil, e.op)); err == nil || err.Error() != "operator requires issuer to be a signing key" {
		t.Errorf("strict operator, its own key: %v", err)
	}
	if !strict.OperatorKey(e.opPub) || !strict.OperatorKey(e.opSKPub) || strict.OperatorKey(pub) {
		t.Error("OperatorKey")
	}
}
