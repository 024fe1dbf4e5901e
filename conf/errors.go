package conf

import (
	"errors"
	"fmt"
)

// Error is one problem found in a configuration, an error or a warning.
//
// Its text follows nats-server's: "<file>:<line>:<column>: <message>", so
// that operators who know one server's messages can read the other's. The
// column is the one nats-server's lexer reports for the key.
type Error struct {
	File   string // the file the key was read from; "" if unknown
	Line   int    // 0 when the problem has no single place (a syntax error or a cross-key check without a recorded key)
	Column int
	// Key names the key concerned: as written in the file for problems
	// found while reading, as a dotted canonical path ("leafnodes.remotes")
	// for cross-key checks. It is "" for syntax errors.
	Key string
	Msg string

	wrapped error // a sentinel such as ErrTLSNotSupported, for errors.Is
}

// Error formats the error as nats-server does: "<file>:<line>:<column>:
// <message>", or "<file>: <message>" when there is no line.
func (e *Error) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	default:
		return e.Msg
	}
}

// Unwrap returns the sentinel the error stands for, if any.
func (e *Error) Unwrap() error { return e.wrapped }

// Sentinels for conditions callers may want to tell apart.
var (
	// ErrTLSNotSupported is wrapped by errors about the TLS settings
	// Canopy reads but cannot honour: resolver_tls, ocsp, and inside tls
	// blocks cert_store, cert_match_by, cert_match,
	// cert_match_skip_invalid, ca_certs_match, ocsp_peer and
	// connection_rate_limit. Canopy refuses to start rather than ignore
	// them.
	ErrTLSNotSupported = errors.New("TLS feature not supported by Canopy")
	// ErrCertNotPinned is the handshake error, from the tls.Configs that
	// ServerConfig and ClientConfig build, for a peer whose leaf
	// certificate's public key is not in PinnedCerts. Its text is
	// nats-server's, which operators may grep logs for, hence no prefix.
	ErrCertNotPinned = errors.New("certificate not pinned")
	// ErrNoConfigToCheck is returned for -t without -c.
	ErrNoConfigToCheck = errors.New("must specify [-c, --config] option to check configuration file syntax")
)

// token is the view of a value that nats-server's conf package gives in
// pedantic mode (ParseFileWithChecks): the value and where it was read.
type token interface {
	Value() any
	Line() int
	Position() int
	SourceFile() string
	IsUsedVariable() bool
}

// joinErrors joins errs into one error, or returns nil when there are none.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

// noToken stands in for a missing token so that every node has a place,
// even if an empty one.
type noToken struct{}

func (noToken) Value() any           { return nil }
func (noToken) Line() int            { return 0 }
func (noToken) Position() int        { return 0 }
func (noToken) SourceFile() string   { return "" }
func (noToken) IsUsedVariable() bool { return false }
