package bench

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Errors returned by the harness. A run that moved messages but lost,
// duplicated or reordered any of them returns an error wrapping ErrIntegrity,
// together with the Result that shows the numbers.
var (
	ErrIntegrity = errors.New("bench: message integrity check failed")
	ErrOptions   = errors.New("bench: invalid options")
	ErrConnect   = errors.New("bench: cannot connect")
	ErrNotReady  = errors.New("bench: subscribers never saw the publishers (no interest path)")
)

// Scenario names one kind of run.
type Scenario string

// The scenarios. Leaf is PubSub with the subscribers on SubURL; it exists as
// its own name so that a run that forgot SubURL is refused rather than
// silently measuring a single server.
const (
	Pub    Scenario = "pub"
	PubSub Scenario = "pubsub"
	Queue  Scenario = "queue"
	ReqRep Scenario = "reqrep"
	Leaf   Scenario = "leaf"
	Conns  Scenario = "conns"
)

// Scenarios lists every scenario in the order the help text shows them.
var Scenarios = []Scenario{Pub, PubSub, Queue, ReqRep, Leaf, Conns}

// Pattern is how the payload bytes after the integrity tag are filled.
type Pattern string

// Payload patterns. Random is a fixed pseudo-random sequence (the same in
// every run, so A and B servers see identical bytes).
const (
	PatternRandom Pattern = "random"
	PatternZero   Pattern = "zero"
	PatternText   Pattern = "text"
)

// Auth holds the credentials every connection of a run presents. At most one
// of Token, User/Password and CredsFile may be set; credentials embedded in
// the URL (nats://user:pass@host) also work and need none of these.
type Auth struct {
	Token     string
	User      string
	Password  string
	CredsFile string
}

func (a Auth) natsOptions() []nats.Option {
	var opts []nats.Option
	if a.Token != "" {
		opts = append(opts, nats.Token(a.Token))
	}
	if a.User != "" || a.Password != "" {
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	}
	return opts
}

func (a Auth) validate() error {
	n := 0
	if a.Token != "" {
		n++
	}
	if a.User != "" || a.Password != "" {
		n++
	}
	if a.CredsFile != "" {
		n++
	}
	if n > 1 {
		return fmt.Errorf("%w: give only one of token, user/password and creds file", ErrOptions)
	}
	return nil
}

// Options describes one run. The zero value is valid: a 1:1 pub/sub run of
// 100,000 messages of 128 bytes against nats://127.0.0.1:4222. Every default
// is applied in normalize and nowhere else.
type Options struct {
	// Scenario picks the kind of run; default PubSub.
	Scenario Scenario
	// URL is the server the publishers (and requesters, and idle
	// connections) use; default nats://127.0.0.1:4222.
	URL string
	// SubURL is where subscribers (and responders) connect; default URL.
	// The Leaf scenario requires it to differ from URL.
	SubURL string
	// Label names the server in output; default the URL.
	Label string
	Auth  Auth
	// TLS makes every connection of the run (publishers, subscribers, idle
	// connections) speak TLS; a tls:// URL does too.
	TLS TLSOptions

	// Subject the messages are published on; default "canopy.bench".
	Subject string
	// Size is the payload size in bytes; default 128. From 16 bytes on, the
	// publisher id and sequence number travel in the payload; below that
	// they travel in a header and the payload holds only the pattern.
	Size int
	// Count is the total number of messages published, split evenly over
	// the publishers; default 100,000 when Duration is zero. For ReqRep it
	// is the total number of requests.
	Count int64
	// Duration, when set, publishes for that long instead of Count messages.
	Duration time.Duration
	// Pubs is the number of publishers (requesters for ReqRep); default 1.
	Pubs int
	// Subs is the number of subscribers (queue members for Queue,
	// responders for ReqRep); default 1 (0 for Pub).
	Subs int
	// Pattern fills the payload; default PatternRandom.
	Pattern Pattern
	// Rate caps the total publish rate in messages per second; 0 is no cap.
	Rate float64
	// Warmup messages are sent (split over the publishers) and awaited
	// before measuring; they are counted apart.
	Warmup int64
	// Timeout bounds each wait: for subscribers to become ready, for the
	// last message to arrive after publishing ends, for a reply; default 10s.
	Timeout time.Duration

	// Conns is the number of idle connections for the Conns scenario;
	// default 1,000.
	Conns int
	// ConnSub gives each idle connection one subscription of its own.
	ConnSub bool
	// Hold keeps the idle connections open this long after the last one is
	// ready, answering the server's PINGs.
	Hold time.Duration
	// ServerPID, when set, is read for VmRSS before and after the idle
	// connections open, to report memory per connection.
	ServerPID int
	// SourceIPs is how many loopback source addresses (127.0.0.1, .2, ...)
	// the idle connections are spread over; 0 picks enough for the
	// ephemeral port range when the target is a loopback address.
	SourceIPs int
	// Dialers is how many connections are opened at once; default 64.
	Dialers int
	// PingSample is how many of the idle connections, picked at random,
	// each time one PING/PONG round trip once the server's memory has been
	// read; default 1,000 (all of them when there are fewer), negative for
	// none.
	PingSample int

	// Progress, when set, receives a progress bar while the run goes.
	Progress io.Writer

	// fault, when set, sees every message before the counting layer and
	// may drop, duplicate or hold it back. Tests use it to prove that the
	// detector catches what it claims to.
	fault func(sub int, pub uint32, seq uint64) faultAction
	// opened, when set, is called once every idle connection is open, before
	// the hold; tests look at the server through it.
	opened func()
}

// faultAction is what a fault hook does to one message.
type faultAction int

const (
	faultNone faultAction = iota
	faultDrop
	faultDuplicate
	// faultHold keeps the message back and delivers it after the next one,
	// which swaps the two.
	faultHold
)

const (
	defaultURL     = "nats://127.0.0.1:4222"
	defaultSubject = "canopy.bench"
	defaultSize    = 128
	defaultCount   = 100_000
	defaultTimeout = 10 * time.Second
	defaultConns   = 1000
	defaultDialers = 64
	defaultPings   = 1000
)

// normalize applies every default and rejects what cannot run. It is the only
// place defaults live.
func (o *Options) normalize() error {
	if o.Scenario == "" {
		o.Scenario = PubSub
	}
	known := false
	for _, s := range Scenarios {
		known = known || s == o.Scenario
	}
	if !known {
		return fmt.Errorf("%w: unknown scenario %q", ErrOptions, o.Scenario)
	}
	if o.URL == "" {
		o.URL = defaultURL
	}
	if o.SubURL == "" {
		if o.Scenario == Leaf {
			return fmt.Errorf("%w: the leaf scenario needs a subscriber URL on the other side of the leaf hop", ErrOptions)
		}
		o.SubURL = o.URL
	}
	if o.Label == "" {
		o.Label = o.URL
		if o.SubURL != o.URL {
			o.Label = o.URL + " -> " + o.SubURL
		}
	}
	if err := o.Auth.validate(); err != nil {
		return err
	}
	if err := o.TLS.validate(); err != nil {
		return err
	}
	if o.Subject == "" {
		o.Subject = defaultSubject
	}
	if strings.ContainsAny(o.Subject, " \t\r\n*>") {
		return fmt.Errorf("%w: subject %q must be a literal subject", ErrOptions, o.Subject)
	}
	if o.Size == 0 {
		o.Size = defaultSize
	}
	if o.Size < 0 {
		return fmt.Errorf("%w: negative message size", ErrOptions)
	}
	if o.Count < 0 || o.Duration < 0 || o.Warmup < 0 || o.Rate < 0 {
		return fmt.Errorf("%w: negative count, duration, warm-up or rate", ErrOptions)
	}
	if o.Count == 0 && o.Duration == 0 {
		o.Count = defaultCount
	}
	if o.Count != 0 && o.Duration != 0 {
		return fmt.Errorf("%w: give a count or a duration, not both", ErrOptions)
	}
	if o.Pubs == 0 {
		o.Pubs = 1
	}
	if o.Subs == 0 && o.Scenario != Pub {
		o.Subs = 1
	}
	if o.Pubs < 0 || o.Subs < 0 {
		return fmt.Errorf("%w: negative publisher or subscriber count", ErrOptions)
	}
	if o.Scenario == Pub {
		o.Subs = 0
	}
	if o.Count != 0 && o.Count < int64(o.Pubs) {
		return fmt.Errorf("%w: count %d is smaller than the %d publishers", ErrOptions, o.Count, o.Pubs)
	}
	switch o.Pattern {
	case "":
		o.Pattern = PatternRandom
	case PatternRandom, PatternZero, PatternText:
	default:
		return fmt.Errorf("%w: unknown payload pattern %q", ErrOptions, o.Pattern)
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Conns == 0 {
		o.Conns = defaultConns
	}
	if o.Conns < 0 || o.SourceIPs < 0 || o.Dialers < 0 || o.Hold < 0 {
		return fmt.Errorf("%w: negative connection settings", ErrOptions)
	}
	if o.SourceIPs > 254 {
		return fmt.Errorf("%w: at most 254 loopback source addresses", ErrOptions)
	}
	if o.Dialers == 0 {
		o.Dialers = defaultDialers
	}
	switch {
	case o.PingSample == 0:
		o.PingSample = min(defaultPings, o.Conns)
	case o.PingSample < 0:
		o.PingSample = 0
	default:
		o.PingSample = min(o.PingSample, o.Conns)
	}
	return nil
}

// share splits total over n parts, giving the remainder to the first parts.
func share(total int64, n, i int) int64 {
	q, r := total/int64(n), total%int64(n)
	if int64(i) < r {
		return q + 1
	}
	return q
}
