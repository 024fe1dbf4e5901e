package auth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// The directory resolvers (full and cache) keep account JWTs in a
// directory, one file per account named <public key>.jwt, which is also
// the layout of nats-server's unsharded directory store: the same
// directory serves either server. A deleted account's file is renamed to
// <key>.jwt.deleted unless deletes are hard.

// jwtExt and deletedExt name the files of the store.
const (
	jwtExt     = ".jwt"
	deletedExt = ".deleted"
)

// DefaultCacheLimit is how many accounts a cache resolver keeps when its
// limit is not set, as nats-server's.
const DefaultCacheLimit = 1000

// DirStore is a directory of account JWTs. Its methods are safe for
// concurrent use. The JWTs are also held in memory, so reading one costs
// no file access.
type DirStore struct {
	dir   string
	limit int  // at most this many accounts; 0: no limit
	evict bool // past the limit, drop the oldest (a cache) rather than refuse
	hard  bool // a delete removes the file rather than rename it
	ttl   time.Duration

	mu     sync.Mutex
	jwts   map[string]string    // guarded by mu
	stored map[string]time.Time // guarded by mu: when each was saved
}

// OpenDirStore opens (creating it when missing) the directory dir and
// reads the JWTs in it. A file that does not hold an account JWT of the
// account it is named after is skipped and reported in the warnings.
func OpenDirStore(dir string, limit int64, evict, hard bool, ttl time.Duration) (*DirStore, []string, error) {
	if dir == "" {
		return nil, nil, errors.New("no directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	st := &DirStore{dir: abs, evict: evict, hard: hard, ttl: ttl,
		jwts: map[string]string{}, stored: map[string]time.Time{}}
	if limit > 0 && limit < int64(^uint(0)>>1) {
		st.limit = int(limit)
	}
	ents, err := os.ReadDir(abs)
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, jwtExt) {
			continue
		}
		key := strings.TrimSuffix(name, jwtExt)
		b, err := os.ReadFile(filepath.Join(abs, name))
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("DirResolver - cannot read %s: %v", name, err))
			continue
		}
		tok := strings.TrimSpace(string(b))
		ac, err := jwt.DecodeAccountClaims(tok)
		if err != nil || ac.Subject != key {
			warnings = append(warnings, fmt.Sprintf("DirResolver - %s does not hold the account JWT of %s, skipped", name, key))
			continue
		}
		st.jwts[key] = tok
		info, _ := e.Info()
		if info != nil {
			st.stored[key] = info.ModTime()
		}
	}
	return st, warnings, nil
}

// NewMemStore returns a store that keeps JWTs in memory only: the MEMORY
// resolver's, which takes updates of the accounts it knows and forgets
// them at restart, as nats-server's does.
func NewMemStore() *DirStore {
	return &DirStore{jwts: map[string]string{}, stored: map[string]time.Time{}}
}

// Dir is the store's directory, as an absolute path ("" in memory).
func (st *DirStore) Dir() string { return st.dir }

// Get returns the JWT of account key, or "" when the store has none (or
// a cache's copy has outlived its ttl).
func (st *DirStore) Get(key string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ttl > 0 {
		if t, ok := st.stored[key]; ok && time.Since(t) > st.ttl {
			return ""
		}
	}
	return st.jwts[key]
}

// All returns a copy of every JWT in the store, by account key.
func (st *DirStore) All() map[string]string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]string, len(st.jwts))
	for k, v := range st.jwts {
		if st.ttl > 0 && time.Since(st.stored[k]) > st.ttl {
			continue
		}
		out[k] = v
	}
	return out
}

// List returns the keys of the accounts in the store, sorted.
func (st *DirStore) List() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, 0, len(st.jwts))
	for k := range st.jwts {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Hash is what a full resolver compares with its peers' to know whether
// their sets of JWTs differ: the XOR of the SHA-256 of every JWT, as
// nats-server's directory store computes it.
func (st *DirStore) Hash() [sha256.Size]byte {
	st.mu.Lock()
	defer st.mu.Unlock()
	var h [sha256.Size]byte
	for _, tok := range st.jwts {
		x := sha256.Sum256([]byte(tok))
		for i := range h {
			h[i] ^= x[i]
		}
	}
	return h
}

// ErrStoreFull is what saving a new account past a full resolver's limit
// says, in nats-server's words.
var ErrStoreFull = errors.New("jwt store is full")

// Save keeps tok as the JWT of account key, unless the store holds a JWT
// issued later (or the same one): it reports whether the store changed.
func (st *DirStore) Save(key, tok string) (bool, error) {
	if !nkeys.IsValidPublicAccountKey(key) {
		return false, errors.New("invalid public key")
	}
	next, err := jwt.DecodeGeneric(tok)
	if err != nil {
		return false, err
	}
	if next.Subject != key {
		return false, errors.New("jwt subject nkey and provided nkey do not match")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if old, ok := st.jwts[key]; ok {
		if prev, err := jwt.DecodeGeneric(old); err == nil {
			if prev.ID == next.ID || prev.IssuedAt > next.IssuedAt {
				return false, nil
			}
		}
	} else if st.limit > 0 && len(st.jwts) >= st.limit {
		if !st.evict {
			return false, ErrStoreFull
		}
		st.evictOldest()
	}
	if st.dir != "" {
		path := filepath.Join(st.dir, key+jwtExt)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(tok), 0o640); err != nil {
			return false, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return false, err
		}
	}
	st.jwts[key] = tok
	st.stored[key] = time.Now()
	return true, nil
}

// evictOldest drops the account saved longest ago. Called with mu held.
func (st *DirStore) evictOldest() {
	var oldest string
	var at time.Time
	for k, t := range st.stored {
		if oldest == "" || t.Before(at) {
			oldest, at = k, t
		}
	}
	if oldest != "" {
		st.remove(oldest, true)
	}
}

// Delete removes account key from the store: its file is renamed to
// <key>.jwt.deleted, or removed when deletes are hard.
func (st *DirStore) Delete(key string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.jwts[key]; !ok {
		return nil
	}
	return st.remove(key, st.hard)
}

func (st *DirStore) remove(key string, hard bool) error {
	path := filepath.Join(st.dir, key+jwtExt)
	delete(st.jwts, key)
	delete(st.stored, key)
	if st.dir == "" {
		return nil
	}
	var err error
	if hard {
		err = os.Remove(path)
	} else {
		err = os.Rename(path, path+deletedExt)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// CheckAccountJWT decodes and validates an account JWT pushed to the
// server ($SYS.REQ.CLAIMS.UPDATE): it must be an account JWT that
// validates (expiry aside, as nats-server's claimValidate), signed by a
// trusted operator key (a signing key when the operator requires one).
// The errors are those nats-server answers with; the caller adds its "jwt
// update resulted in error" or "jwt validation failed" prefix, which a
// *ValidationError tells apart.
func (a *Authenticator) CheckAccountJWT(tok string) (*jwt.AccountClaims, error) {
	ac, err := jwt.DecodeAccountClaims(tok)
	if err != nil {
		return nil, err
	}
	if a.operatorStrict(ac.Issuer) {
		return ac, errors.New("operator requires issuer to be a signing key")
	}
	vr := jwt.CreateValidationResults()
	ac.Validate(vr)
	if vr.IsBlocking(false) {
		return ac, &ValidationError{fmt.Errorf("validation errors: %v", vr.Errors())}
	}
	if _, ok := a.trusted[ac.Issuer]; !ok {
		return ac, errors.New("not trusted")
	}
	return ac, nil
}

// ValidationError marks a pushed JWT that decoded but did not validate.
type ValidationError struct{ err error }

func (e *ValidationError) Error() string { return e.err.Error() }
func (e *ValidationError) Unwrap() error { return e.err }

// operatorStrict reports whether key is an operator's own key while that
// operator requires its signing keys to issue accounts.
func (a *Authenticator) operatorStrict(key string) bool {
	_, ok := a.strictOps[key]
	return ok
}

// OperatorKey reports whether key may sign operator requests such as
// $SYS.REQ.CLAIMS.DELETE: an operator's key or one of its signing keys.
func (a *Authenticator) OperatorKey(key string) bool {
	if _, ok := a.trusted[key]; ok {
		return true
	}
	_, ok := a.strictOps[key]
	return ok
}

// Fetcher looks up an account the authenticator does not know (the cache
// resolver asks its peers through the system account). It is called on
// an auth worker, never on an event loop, and may wait. It returns nil
// once the account is known to a newer authenticator the server has
// installed meanwhile: the check that asked is then made again against
// that one.
type Fetcher func(account string) error

// ErrFetched says that an account lookup succeeded and the connection's
// check must be made again against the server's new authenticator.
var ErrFetched = errors.New("auth: account fetched, check again")

// WithoutFetch returns a copy of a that never looks accounts up: for
// checking connections again, which must not wait on other servers.
func (a *Authenticator) WithoutFetch() *Authenticator {
	if a.fetch == nil {
		return a
	}
	b := *a
	b.fetch = nil
	return &b
}
