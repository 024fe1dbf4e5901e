package bench

import (
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// problems collects what the nats.go callbacks report while a run goes:
// disconnections, slow consumers, permission errors. Any of them fails the
// run, since the numbers of a run that lost a connection mean nothing.
type problems struct {
	mu   sync.Mutex
	list []string
}

func (p *problems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	const keep = 20
	if len(p.list) < keep {
		p.list = append(p.list, fmt.Sprintf(format, args...))
	}
}

func (p *problems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// client is one nats.go connection of a run, with a channel that is closed
// once nats.go has fully closed it (after Close or after Drain finished).
type client struct {
	name   string
	nc     *nats.Conn
	closed chan struct{}
}

// connect opens one connection with the run's credentials. Reconnection is
// off: a run whose connection dropped is reported, never quietly resumed.
func connect(o *Options, serverURL, name string, pr *problems) (*client, error) {
	c := &client{name: name, closed: make(chan struct{})}
	opts := append(append(o.Auth.natsOptions(), o.TLS.natsOptions()...),
		nats.Name(name),
		nats.NoReconnect(),
		nats.Timeout(o.Timeout),
		nats.DrainTimeout(o.Timeout),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				pr.add("%s: disconnected: %v", name, err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			if s != nil && errors.Is(err, nats.ErrSlowConsumer) {
				pr.add("%s: nats.go dropped messages as a slow consumer (the harness fell behind, not the server)", name)
				return
			}
			pr.add("%s: %v", name, err)
		}),
	)
	nc, err := nats.Connect(serverURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w to %s as %s: %v", ErrConnect, redact(serverURL), name, err)
	}
	c.nc = nc
	return c, nil
}

// drain lets nats.go deliver everything it has buffered to the handlers,
// then closes; it returns when that is done or the timeout passes.
func (c *client) drain(timeout time.Duration) error {
	if err := c.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("bench: drain %s: %w", c.name, err)
	}
	select {
	case <-c.closed:
		return nil
	case <-time.After(timeout + time.Second):
		c.nc.Close()
		return fmt.Errorf("bench: drain %s: not finished after %v", c.name, timeout)
	}
}

func closeAll(cs []*client) {
	for _, c := range cs {
		if c != nil {
			c.nc.Close()
		}
	}
}

// redact hides a password in a URL before it goes into an error or a report.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
