package leaf

import (
	"encoding/base64"
	"fmt"
	"os"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// signer proves a remote's identity to a hub: it fills in the credentials
// of a CONNECT for the nonce the hub's INFO carried.
type signer interface {
	sign(c *Connect, nonce string) error
}

// credsFile signs with a credentials file (user JWT + nkey seed). The file
// is read at every connect, so a renewed file takes effect on the next
// link without a restart.
type credsFile struct{ path string }

func (f credsFile) sign(c *Connect, nonce string) error {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("leaf: credentials: %w", err)
	}
	defer clear(data)
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return fmt.Errorf("leaf: credentials %s: no user JWT: %w", f.path, err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(data)
	if err != nil {
		return fmt.Errorf("leaf: credentials %s: no user seed: %w", f.path, err)
	}
	defer kp.Wipe()
	sig, err := kp.Sign([]byte(nonce))
	if err != nil {
		return fmt.Errorf("leaf: credentials %s: %w", f.path, err)
	}
	c.JWT = token
	c.Sig = base64.RawURLEncoding.EncodeToString(sig)
	return nil
}

// seedKey signs with a bare nkey seed (the remote's nkey/seed keys).
type seedKey struct{ seed string }

func (s seedKey) sign(c *Connect, nonce string) error {
	kp, err := nkeys.FromSeed([]byte(s.seed))
	if err != nil {
		return fmt.Errorf("leaf: remote nkey has malformed seed: %w", err)
	}
	defer kp.Wipe()
	sig, err := kp.Sign([]byte(nonce))
	if err != nil {
		return fmt.Errorf("leaf: remote nkey: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("leaf: remote nkey: %w", err)
	}
	c.Nkey = pub
	c.Sig = base64.RawURLEncoding.EncodeToString(sig)
	return nil
}

// checkCreds reads a credentials file once at start-up, so that a missing
// or malformed file is a configuration error rather than a silent retry
// loop.
func checkCreds(path string) error {
	var c Connect
	return credsFile{path}.sign(&c, "check")
}
