package auth

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Authentication failures always wrap ErrAuthorization
// together with a more specific cause (one of the sentinels below, or a plain
// reason), so errors.Is(err, ErrAuthorization) decides what goes on the wire
// while err.Error() carries the detail for the log.
var (
	// ErrAuthorization is the umbrella of every failed authentication.
	ErrAuthorization = errors.New("auth: authorization violation")
	// ErrExpired means a user JWT is past its expiry (or outside its
	// connect time window).
	ErrExpired = errors.New("auth: user authentication expired")
	// ErrAccountExpired means the account JWT is past its expiry.
	ErrAccountExpired = errors.New("auth: account authentication expired")
	// ErrRevoked means the account revoked the user JWT.
	ErrRevoked = errors.New("auth: user authentication revoked")
	// ErrUnknownSigner means a user JWT's issuer is not (or no longer) a
	// key of its account.
	ErrUnknownSigner = errors.New("auth: user JWT issuer not known to the account")
	// ErrUnknownAccount means an account name or key resolves to nothing.
	ErrUnknownAccount = errors.New("auth: unknown account")
	// ErrAccountValidation means an account JWT exists but is not trusted or
	// not valid (nats-server: "account validation failed").
	ErrAccountValidation = errors.New("auth: account validation failed")
	// ErrBadSignature means a nonce signature is missing, malformed or wrong.
	ErrBadSignature = errors.New("auth: signature not verified")
	// ErrBadCredentials means a user, password, token or nkey did not match.
	ErrBadCredentials = errors.New("auth: invalid credentials")
	// ErrJWTRequired means operator mode saw a CONNECT without a user JWT.
	ErrJWTRequired = errors.New("auth: authentication requires a user JWT")
	// ErrBearerNotAllowed means the account disallows bearer tokens.
	ErrBearerNotAllowed = errors.New("auth: account does not allow bearer tokens")
	// ErrConnectionType means the user may not use this kind of connection.
	ErrConnectionType = errors.New("auth: connection type not allowed")
	// ErrSource means the client address is outside the JWT's src CIDRs.
	ErrSource = errors.New("auth: source address not allowed")
	// ErrNoCertUser means verify_and_map found no user for the client
	// certificate, or the connection presented none.
	ErrNoCertUser = errors.New("auth: no user maps to the client certificate")
	// ErrConfig wraps every inconsistency New finds in the configuration.
	ErrConfig = errors.New("auth: invalid configuration")
	// The import/export errors below keep nats-server's exact texts,
	// without the package prefix, because they end up inside configuration
	// errors worded as nats-server words them ("Error adding stream import
	// %q: stream import not authorized").

	// ErrStreamImportAuthorization: a stream import the exporter does not allow.
	ErrStreamImportAuthorization = errors.New("stream import not authorized")
	// ErrServiceImportAuthorization: a service import the exporter does not allow.
	ErrServiceImportAuthorization = errors.New("service import not authorized")
	// ErrStreamImportBadPrefix: a stream import prefix with wildcards.
	ErrStreamImportBadPrefix = errors.New("stream import prefix can not contain wildcard tokens")
	// ErrStreamImportDuplicate: the same stream imported twice from one account.
	ErrStreamImportDuplicate = errors.New("stream import already exists")
	// ErrImportFormsCycle: imports that would route a subject back to itself.
	ErrImportFormsCycle = errors.New("import forms a cycle")
	// ErrInvalidSubject: a subject that is not a valid NATS subject.
	ErrInvalidSubject = errors.New("invalid subject")
)

// Texts that go on the wire inside -ERR '...', exactly as nats-server
// v2.15.2 sends them (PROTOCOL.md 2.8).
const (
	WireAuthorization       = "Authorization Violation"
	WireUserExpired         = "User Authentication Expired"
	WireAccountExpired      = "Account Authentication Expired"
	WireUserRevoked         = "User Authentication Revoked"
	WireAccountConnections  = "maximum account active connections exceeded"
	WireMaxSubscriptions    = "maximum subscriptions exceeded"
	wirePubViolation        = "Permissions Violation for Publish to "
	wireSubViolation        = "Permissions Violation for Subscription to "
	wireReplyViolation      = "Permissions Violation for Publish with Reply of "
	wireQueueViolationInfix = " using queue "
)

// WireText maps an error from this package to the -ERR text nats-server
// sends for it. Any authentication failure (wrapping ErrAuthorization) is
// "Authorization Violation", even when the cause is an expired or revoked
// JWT: nats-server only uses the "Expired"/"Revoked" texts for credentials
// that lapse while the connection is up.
func WireText(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrAuthorization):
		return WireAuthorization
	case errors.Is(err, ErrExpired):
		return WireUserExpired
	case errors.Is(err, ErrAccountExpired):
		return WireAccountExpired
	case errors.Is(err, ErrRevoked):
		return WireUserRevoked
	default:
		return WireAuthorization
	}
}

// AppendPublishViolation appends the -ERR text (without quotes or framing)
// for a denied publish: Permissions Violation for Publish to "<subject>".
func AppendPublishViolation(dst, subject []byte) []byte {
	dst = append(dst, wirePubViolation...)
	return appendQuoted(dst, subject)
}

// AppendSubscribeViolation appends the -ERR text for a denied subscription,
// with the " using queue" variant when queue is not empty.
func AppendSubscribeViolation(dst []byte, subject, queue string) []byte {
	dst = append(dst, wireSubViolation...)
	dst = strconv.AppendQuote(dst, subject)
	if queue != "" {
		dst = append(dst, wireQueueViolationInfix...)
		dst = strconv.AppendQuote(dst, queue)
	}
	return dst
}

// AppendReplyViolation appends the -ERR text for a reply subject the
// connection may not use: Permissions Violation for Publish with Reply of "<reply>".
func AppendReplyViolation(dst, reply []byte) []byte {
	dst = append(dst, wireReplyViolation...)
	return appendQuoted(dst, reply)
}

// appendQuoted quotes like fmt's %q does for a []byte, without converting
// the slice to a string first.
func appendQuoted(dst, b []byte) []byte {
	return strconv.AppendQuote(dst, bytesToString(b))
}

// chain is an error of this package wrapping a cause, which may be another
// of its sentinels. It reads "auth: outer: cause" with the package named
// once, where fmt.Errorf("%w: %w") would repeat the prefix of every
// sentinel in the chain.
type chain struct {
	outer, cause error
}

func (e *chain) Error() string {
	return e.outer.Error() + ": " + strings.TrimPrefix(e.cause.Error(), "auth: ")
}

// Unwrap lets errors.Is and errors.As find both.
func (e *chain) Unwrap() []error { return []error{e.outer, e.cause} }
