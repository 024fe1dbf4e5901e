package bench

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// The steady flow runs for the whole chaos run: a publisher on the leaf
// sends sequence-numbered, checksummed messages to a subscriber on the hub,
// across the leaf link, at a steady rate. Messages may be lost while the
// link is down; none may arrive twice, out of order, or altered.

const (
	flowPayload = 64
	flowRate    = 500 // messages a second
)

// flowMessage fills b (flowPayload bytes) for sequence number seq: the
// number, filler derived from it, and a CRC-32 of both.
func flowMessage(b []byte, seq uint64) {
	binary.BigEndian.PutUint64(b, seq)
	x := seq*0x9e3779b97f4a7c15 | 1
	for i := 8; i < flowPayload-4; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	binary.BigEndian.PutUint32(b[flowPayload-4:], crc32.ChecksumIEEE(b[:flowPayload-4]))
}

// flowCheck returns the sequence number of a flow message and whether it is
// intact: the right length, a checksum that matches, and the filler its
// number gives.
func flowCheck(b []byte) (uint64, bool) {
	if len(b) != flowPayload {
		return 0, false
	}
	seq := binary.BigEndian.Uint64(b)
	var want [flowPayload]byte
	flowMessage(want[:], seq)
	return seq, seq > 0 && string(b) == string(want[:])
}

type flowCounts struct {
	recv, dup, bad int64
}

type steadyFlow struct {
	sub, pub *nats.Conn
	seen     seqSet
	mu       sync.Mutex
	last     uint64    // highest sequence number received
	lastAt   time.Time // when the last intact message arrived
	recv     atomic.Int64
	dup      atomic.Int64
	bad      atomic.Int64
	done     chan struct{}
	wg       sync.WaitGroup
}

// startSteadyFlow subscribes on subURL and publishes on pubURL.
func startSteadyFlow(subURL, pubURL string) (*steadyFlow, error) {
	f := &steadyFlow{done: make(chan struct{})}
	opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond), nats.ReconnectJitter(0, 0), nats.Timeout(5 * time.Second)}
	var err error
	if f.sub, err = nats.Connect(subURL, append(opts, nats.Name("chaos-flow-sub"))...); err != nil {
		return nil, err
	}
	if _, err := f.sub.Subscribe(chaosFlowSubject, f.onMsg); err != nil {
		f.sub.Close()
		return nil, err
	}
	if err := f.sub.Flush(); err != nil {
		f.sub.Close()
		return nil, err
	}
	if f.pub, err = nats.Connect(pubURL, append(opts, nats.Name("chaos-flow-pub"))...); err != nil {
		f.sub.Close()
		return nil, err
	}
	f.wg.Add(1)
	go f.publish()
	return f, nil
}

func (f *steadyFlow) publish() {
	defer f.wg.Done()
	t := time.NewTicker(time.Second / flowRate)
	defer t.Stop()
	buf := make([]byte, flowPayload)
	var seq uint64
	for {
		select {
		case <-f.done:
			return
		case <-t.C:
		}
		seq++
		flowMessage(buf, seq)
		// While the leaf is reconnecting to nothing, nats.go buffers
		// and may refuse; a refused message is simply a lost one.
		_ = f.pub.Publish(chaosFlowSubject, buf)
	}
}

func (f *steadyFlow) onMsg(m *nats.Msg) {
	seq, ok := flowCheck(m.Data)
	f.recv.Add(1)
	if !ok {
		f.bad.Add(1)
		return
	}
	if f.seen.add(seq) {
		f.dup.Add(1)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq < f.last {
		// Lost messages are allowed; a message older than one already
		// delivered is not.
		f.bad.Add(1)
		return
	}
	f.last, f.lastAt = seq, time.Now()
}

func (f *steadyFlow) counts() flowCounts {
	return flowCounts{recv: f.recv.Load(), dup: f.dup.Load(), bad: f.bad.Load()}
}

// lastArrival is when the last intact message arrived.
func (f *steadyFlow) lastArrival() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastAt
}

// waitFlowing waits until an intact message arrives after since.
func (f *steadyFlow) waitFlowing(since time.Time, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for !f.lastArrival().After(since) {
		if time.Now().After(deadline) {
			return fmt.Errorf("steady flow: nothing delivered within %v", bound)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// resumed waits for the flow to deliver after since, and says how long
// after since it did.
func (f *steadyFlow) resumed(since time.Time, bound time.Duration) (time.Duration, error) {
	if err := f.waitFlowing(since, bound); err != nil {
		return 0, err
	}
	return f.lastArrival().Sub(since), nil
}

func (f *steadyFlow) stop() {
	select {
	case <-f.done:
		return
	default:
	}
	close(f.done)
	f.wg.Wait()
	f.pub.Close()
	f.sub.Close()
}
