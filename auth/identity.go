package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unsafe"

	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// ConnectCreds is what a CONNECT carried that matters for authentication,
// plus the peer address. It is read, never kept: Authenticate copies what it
// needs into the Identity.
type ConnectCreds struct {
	User  string // CONNECT "user"
	Pass  string // CONNECT "pass"
	Token string // CONNECT "auth_token"
	Nkey  string // CONNECT "nkey": a public user key
	Sig   string // CONNECT "sig": the nonce signature, base64 (RawURL or Std)
	JWT   string // CONNECT "jwt": a user JWT
	// Host is the peer's IP address without port. It is only needed when
	// user JWTs restrict their source addresses ("src"); an empty Host then
	// fails, as in nats-server.
	Host string
	// Cert is the peer's verified leaf certificate
	// (tls.ConnectionState.PeerCertificates[0]), or nil without one. Only
	// verify_and_map reads it, and only the leaf counts there, as in
	// nats-server. A pointer rather than the chain keeps ConnectCreds
	// comparable, so it can key caches (loop's reload check does).
	Cert *x509.Certificate
	// Websocket says the connection came in on the websocket listener:
	// the websocket block's authorization applies, and users' allowed
	// connection types are checked against WEBSOCKET (LEAFNODE_WS).
	Websocket bool
}

// Method says how a connection was authenticated.
type Method uint8

// Authentication methods, in nats-server's order of precedence.
const (
	MethodNone     Method = iota // no authentication configured
	MethodJWT                    // operator mode user JWT
	MethodNkey                   // nkey user, nonce signed
	MethodUser                   // users list entry
	MethodToken                  // single token
	MethodPassword               // single user/password
	MethodNoAuth                 // no credentials, bound to no_auth_user
	MethodLeaf                   // leafnodes authorization block
	MethodCert                   // verify_and_map: the client certificate named the user
)

// String names the method for logs.
func (m Method) String() string {
	switch m {
	case MethodNone:
		return "none"
	case MethodJWT:
		return "jwt"
	case MethodNkey:
		return "nkey"
	case MethodUser:
		return "user"
	case MethodToken:
		return "token"
	case MethodPassword:
		return "password"
	case MethodNoAuth:
		return "no_auth_user"
	case MethodLeaf:
		return "leafnode"
	case MethodCert:
		return "tls_map"
	}
	return fmt.Sprintf("method(%d)", uint8(m))
}

// Identity is the outcome of a successful authentication. It is immutable
// and may be shared between goroutines.
type Identity struct {
	// Name is what /connz shows as authorized_user: the user name, the
	// user nkey, the JWT subject (user public key), "[REDACTED]" for a
	// token, or "" when nothing identified the client.
	Name   string
	Method Method
	// Account is the account name; in operator mode the account public key.
	Account     string
	AccountInfo *AccountInfo
	// Perms are the connection's permissions; nil means everything is
	// allowed. For a leaf connection accepted by a hub the server swaps
	// them (Permissions.Swap) and adds the JetStream denies.
	Perms *Permissions
	// Expires is when the credentials lapse: the user JWT's exp, or the end
	// of its current connect-time window, whichever comes first. Zero means
	// never. The server closes the connection at that time with
	// WireUserExpired.
	Expires time.Time
	// MaxSubs and MaxPayload are the effective limits for this connection:
	// the smallest of the user JWT (or its scope template), the account and
	// the server options. -1 means unlimited.
	MaxSubs    int
	MaxPayload int32
	// JWT specific. PubKey is the user's public key (also set for nkey
	// users); SigningKey is the account signing key that issued the user
	// JWT when it was not the account key itself; NameTag and Tags are the
	// JWT's name and tags; Bearer is true for bearer token JWTs.
	PubKey     string
	SigningKey string
	NameTag    string
	Tags       []string
	Bearer     bool
}

const nonceRawLen = 11

// NewNonce returns a fresh nonce for INFO: 11 random bytes in RawURL base64,
// 15 characters. Safe for concurrent use.
func NewNonce() string {
	var raw [nonceRawLen]byte
	var enc [15]byte
	// crypto/rand.Read never returns an error on supported platforms (Go
	// 1.24 and later panic instead).
	_, _ = rand.Read(raw[:])
	base64.RawURLEncoding.Encode(enc[:], raw[:])
	return string(enc[:])
}

// verifyNonceSig checks sig (RawURL base64, falling back to standard base64
// as nats-server does) as pubKey's Ed25519 signature over the nonce bytes as
// they appeared in INFO.
func verifyNonceSig(pubKey, sig, nonce string) error {
	if sig == "" {
		return fmt.Errorf("%w: signature missing", ErrBadSignature)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		raw, err = base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return fmt.Errorf("%w: signature not valid base64", ErrBadSignature)
		}
	}
	kp, err := nkeys.FromPublicKey(pubKey)
	if err != nil {
		return fmt.Errorf("%w: user nkey not valid: %v", ErrBadSignature, err)
	}
	if err := kp.Verify([]byte(nonce), raw); err != nil {
		return ErrBadSignature
	}
	return nil
}

// bcryptPrefix is the shape nats-server recognises as a bcrypt hash.
var bcryptPrefix = regexp.MustCompile(`^\$2[abxy]\$\d{2}\$.*`)

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$") && bcryptPrefix.MatchString(s)
}

// comparePasswords compares a configured password or token, plain or
// bcrypt, with what the client sent. Plain values compare in constant time
// (for equal lengths, like subtle.ConstantTimeCompare).
func comparePasswords(configured, sent string) bool {
	if isBcrypt(configured) {
		return bcrypt.CompareHashAndPassword([]byte(configured), []byte(sent)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(configured), []byte(sent)) == 1
}

// bytesToString views b as a string without copying. The result must not
// outlive b nor be kept: callers use it only for lookups and comparisons
// that finish before they return.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
