package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// credsServer starts a server that trusts a fresh operator and knows one
// account, and writes a creds file for a user of that account. It returns
// the server URL, the creds file, and a creds file of a user the server
// does not trust.
func credsServer(t *testing.T) (url, good, bad string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, err := okp.PublicKey()
	must(err)
	akp, err := nkeys.CreateAccount()
	must(err)
	apub, err := akp.PublicKey()
	must(err)
	ajwt, err := jwt.NewAccountClaims(apub).Encode(okp)
	must(err)

	resolver := &server.MemAccResolver{}
	must(resolver.Store(apub, ajwt))
	s := runServer(t, func(o *server.Options) {
		o.TrustedKeys = []string{opub}
		o.AccountResolver = resolver
	})

	writeCreds := func(name string, signer nkeys.KeyPair) string {
		ukp, err := nkeys.CreateUser()
		must(err)
		upub, err := ukp.PublicKey()
		must(err)
		ujwt, err := jwt.NewUserClaims(upub).Encode(signer)
		must(err)
		seed, err := ukp.Seed()
		must(err)
		creds, err := jwt.FormatUserConfig(ujwt, seed)
		must(err)
		path := filepath.Join(t.TempDir(), name)
		must(os.WriteFile(path, creds, 0o600))
		return path
	}
	stranger, err := nkeys.CreateAccount()
	must(err)
	return s.ClientURL(), writeCreds("good.creds", akp), writeCreds("bad.creds", stranger)
}

func TestCredsFile(t *testing.T) {
	url, good, bad := credsServer(t)
	for _, sc := range []Scenario{PubSub, ReqRep, Conns} {
		o := quick(url, sc)
		o.Auth, o.Count, o.Conns = Auth{CredsFile: good}, 100, 5
		mustRun(t, o)

		o.Auth = Auth{CredsFile: bad}
		res, err := Run(context.Background(), o)
		if err == nil || res.OK {
			t.Fatalf("%s: an untrusted user got in", sc)
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Fatalf("%s: error does not say why: %v", sc, err)
		}
	}
}
