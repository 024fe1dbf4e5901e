package auth

import (
	"fmt"
	"testing"

	"github.com/canopy-nats/canopy/conf"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

var benchSubject = []byte("orders.eu.customer.1234")

func benchPerms(b *testing.B, wild int) *Permissions {
	allow := []string{"orders.>", "invoices.*", "status"}
	for i := range wild {
		allow = append(allow, fmt.Sprintf("svc%d.*.x", i))
	}
	return mustCompile(b, &conf.Permissions{Publish: sp(allow, []string{"orders.secret.>"})})
}

// BenchmarkCheckerPublish is the per-message cost of a publish check on the
// hot path: a verdict cache hit. The nil-permissions case is the reference
// (no permissions configured).
func BenchmarkCheckerPublish(b *testing.B) {
	b.Run("reference/none", func(b *testing.B) {
		c := NewChecker(nil)
		b.SetBytes(int64(len(benchSubject)))
		b.ReportAllocs()
		for b.Loop() {
			c.Publish(benchSubject)
		}
	})
	b.Run("hit/same-subject", func(b *testing.B) {
		c := NewChecker(benchPerms(b, 0))
		c.Publish(benchSubject)
		b.SetBytes(int64(len(benchSubject)))
		b.ReportAllocs()
		for b.Loop() {
			c.Publish(benchSubject)
		}
	})
	b.Run("hit/8-subjects", func(b *testing.B) {
		c := NewChecker(benchPerms(b, 0))
		var subjects [8][]byte
		for i := range subjects {
			subjects[i] = fmt.Appendf(nil, "orders.eu.customer.%d", 1000+i)
			c.Publish(subjects[i])
		}
		b.SetBytes(int64(len(benchSubject)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.Publish(subjects[i&7])
			i++
		}
	})
}

// BenchmarkCanPublish is the full check a cache miss costs, with a few
// wildcard allow entries and with many.
func BenchmarkCanPublish(b *testing.B) {
	for _, wild := range []int{0, 16, 128} {
		p := benchPerms(b, wild)
		b.Run(fmt.Sprintf("allowed/wild=%d", wild+2), func(b *testing.B) {
			b.SetBytes(int64(len(benchSubject)))
			b.ReportAllocs()
			for b.Loop() {
				p.CanPublish(benchSubject)
			}
		})
		miss := []byte("nothing.matches.this.subject")
		b.Run(fmt.Sprintf("denied/wild=%d", wild+2), func(b *testing.B) {
			b.SetBytes(int64(len(miss)))
			b.ReportAllocs()
			for b.Loop() {
				p.CanPublish(miss)
			}
		})
	}
}

// BenchmarkAuthenticate is the cost of one CONNECT in each mode.
func BenchmarkAuthenticate(b *testing.B) {
	ukp, upub := keys(b, nkeys.CreateUser)
	cases := []struct {
		name  string
		opts  *conf.Options
		creds func(nonce string) ConnectCreds
	}{
		{"none", &conf.Options{}, func(string) ConnectCreds { return ConnectCreds{} }},
		{"token", &conf.Options{Authorization: conf.Authorization{Token: "s3cr3t-token"}},
			func(string) ConnectCreds { return ConnectCreds{Token: "s3cr3t-token"} }},
		{"password", &conf.Options{Authorization: conf.Authorization{Users: []*conf.User{{Username: "u", Password: "pw"}}}},
			func(string) ConnectCreds { return ConnectCreds{User: "u", Pass: "pw"} }},
		{"bcrypt-cost10", &conf.Options{Authorization: conf.Authorization{Users: []*conf.User{{Username: "u", Password: bcryptCost(b, "pw", 10)}}}},
			func(string) ConnectCreds { return ConnectCreds{User: "u", Pass: "pw"} }},
		{"no_auth_user", &conf.Options{NoAuthUser: "u", Authorization: conf.Authorization{Users: []*conf.User{{Username: "u", Password: "pw"}}}},
			func(string) ConnectCreds { return ConnectCreds{} }},
		{"nkey", &conf.Options{Authorization: conf.Authorization{Users: []*conf.User{{Nkey: upub}}}},
			func(n string) ConnectCreds { return ConnectCreds{Nkey: upub, Sig: sign(b, ukp, n)} }},
	}
	env := newOperatorEnv(b)
	akp, apub := keys(b, nkeys.CreateAccount)
	scoped, scopedPub := keys(b, nkeys.CreateAccount)
	env.addAccount(b, apub, "A", func(ac *jwt.AccountClaims) {
		sc := jwt.NewUserScope()
		sc.Key = scopedPub
		sc.Template.Pub.Allow.Add("svc.{{name()}}.>")
		ac.SigningKeys.AddScopedSigner(sc)
	}, env.op)
	opOpts := env.options(b, nil)
	jwtPlain, jkp, _ := userJWT(b, akp, apub, func(uc *jwt.UserClaims) { uc.Pub.Allow.Add("orders.>") })
	jwtScoped, skp, _ := userJWT(b, scoped, apub, func(uc *jwt.UserClaims) { uc.SetScoped(true) })
	cases = append(cases,
		struct {
			name  string
			opts  *conf.Options
			creds func(nonce string) ConnectCreds
		}{"jwt", opOpts, func(n string) ConnectCreds { return ConnectCreds{JWT: jwtPlain, Sig: sign(b, jkp, n)} }},
		struct {
			name  string
			opts  *conf.Options
			creds func(nonce string) ConnectCreds
		}{"jwt-scoped", opOpts, func(n string) ConnectCreds { return ConnectCreds{JWT: jwtScoped, Sig: sign(b, skp, n)} }},
	)
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			a := mustNew(b, tc.opts)
			nonce := NewNonce()
			c := tc.creds(nonce)
			if _, err := a.Authenticate(&c, nonce); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(&c, nonce); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func bcryptCost(b *testing.B, pw string, cost int) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		b.Fatal(err)
	}
	return string(h)
}
