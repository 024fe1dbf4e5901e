package loop

import (
	"fmt"
	"time"

	"github.com/canopy-nats/canopy/leaf"
)

// Leaf compression is negotiated with INFO protocols as nats-server does
// it (PROTOCOL.md 4.6): the side that dialled answers the hub's first INFO
// with a plaintext INFO of its own naming its mode, then compresses; the
// hub answers with a compressed INFO, after which the dialler sends its
// CONNECT. Either side may settle on no compression instead, and the link
// runs as before.

// The RTT thresholds of s2_auto when rtt_thresholds sets none: up to the
// first, s2_uncompressed; up to the second, s2_fast; then s2_better, and
// s2_best beyond the third.
var s2AutoThresholds = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond}

// needsCompression reports whether mode m asks for compression to be
// negotiated.
func needsCompression(m string) bool {
	return m != "" && m != compressOff && m != compressNotSupported
}

// selectCompression is the mode a side configured with ours settles on
// when its peer says theirs.
func selectCompression(ours, theirs string) (string, error) {
	switch theirs {
	case "", compressNotSupported:
		return compressNotSupported, nil
	case compressOff:
		return compressOff, nil
	case compressAccept:
		if ours == compressAccept {
			return compressOff, nil
		}
		return ours, nil
	case compressAuto, compressUncompressed, compressFast, compressBetter, compressBest:
		if ours == compressAccept {
			if theirs == compressAuto {
				return compressFast, nil
			}
			return theirs, nil
		}
		return ours, nil
	}
	return "", fmt.Errorf("unsupported route compression mode %q", theirs)
}

// s2AutoLevel is the level s2_auto takes for a round trip of rtt: the
// level of the first threshold rtt does not pass (a zero threshold turns
// its level off), or past them all, s2_best when there are three or more,
// else the last one's.
func s2AutoLevel(rtt time.Duration, thresholds []time.Duration) string {
	if len(thresholds) == 0 {
		thresholds = s2AutoThresholds
	}
	idx := -1
	for i, d := range thresholds {
		if rtt <= d {
			idx = i
			break
		}
	}
	if idx < 0 {
		idx = len(thresholds) - 1
		if len(thresholds) >= 3 {
			idx = 3
		}
	}
	return [...]string{compressUncompressed, compressFast, compressBetter, compressBest}[min(idx, 3)]
}

// compressionRTT is the link's rtt_thresholds.
func (c *client) compressionRTT() []time.Duration {
	if r := c.leaf.remote; r != nil {
		return r.Config().CompressionRTT
	}
	return c.srv.opts.LeafNode.CompressionRTT
}

// compressionConfig is this side's configured mode for link c; not
// configured means s2_auto, as with nats-server.
func (c *client) compressionConfig() string {
	m := c.srv.opts.LeafNode.Compression
	if r := c.leaf.remote; r != nil {
		m = r.Config().Compression
	}
	if m == "" {
		return compressAuto
	}
	return m
}

// compressionInfo is what the hub's INFO says of compression: its
// configured mode, unless it behaves as a server without compression.
func (s *Server) compressionInfo() string {
	m := s.opts.LeafNode.Compression
	switch m {
	case "":
		return compressAuto
	case compressNotSupported:
		return ""
	}
	return m
}

// negotiateCompression runs at the first INFO a link receives from its
// peer, on either side. It returns true when compression is now on: the
// caller stops parsing what follows that INFO (it is compressed, and goes
// to the new layer) and waits for the peer's next INFO.
func (c *client) negotiateCompression(theirs string) (bool, error) {
	l := c.leaf
	l.compressionDone = true
	if c.ws != nil && c.ws.compress {
		// permessage-deflate already compresses the link: S2 is not
		// stacked on it, as nats-server has it.
		l.setCompression(compressOff)
		return false, nil
	}
	ours := c.compressionConfig()
	if !needsCompression(ours) {
		if theirs == "" || ours == compressNotSupported {
			l.setCompression(compressNotSupported)
		} else {
			l.setCompression(compressOff)
		}
		return false, nil
	}
	cm, err := selectCompression(ours, theirs)
	if err != nil {
		return false, err
	}
	if cm == compressAuto {
		// No round trip is measured yet: the time the connection took to
		// get here stands in for it, as nats-server has it.
		cm = s2AutoLevel(time.Since(c.start), c.compressionRTT())
	}
	l.setCompression(cm)
	if !needsCompression(cm) {
		return false, nil
	}
	inf := c.srv.hubLeafInfo(c)
	inf.Compression = cm
	if ours == compressAuto {
		inf.Compression = compressAuto
	}
	if l.remote != nil {
		// The dialler's INFO says little beyond its mode.
		inf = &leaf.Info{ServerID: inf.ServerID, ServerName: inf.ServerName, Version: inf.Version,
			Proto: inf.Proto, Go: inf.Go, Headers: inf.Headers, MaxPayload: inf.MaxPayload,
			ClientID: c.cid, Compression: inf.Compression, APILevel: inf.APILevel}
	}
	msg := frameInfo(nil, inf)
	layer := &s2Layer{level: cm, readOn: true, writeOn: true}
	if l.remote != nil {
		// Ours goes out in plaintext; from then on we write S2.
		c.out = append(c.out, msg...)
		c.flushOut()
		c.pushCompression(layer)
	} else {
		// The hub's answer is its first compressed bytes.
		c.pushCompression(layer)
		c.out = append(c.out, msg...)
		c.w.markDirty(c)
	}
	c.reroute = layer
	if c.ws != nil {
		c.reroute = &wsParseRest{}
	}
	return true, nil
}

// setCompression records the link's compression for /leafz, which reads
// it from other goroutines.
func (l *leafLink) setCompression(m string) {
	l.compression.Store(&m)
}

// Compression is the link's negotiated compression, as /leafz shows it.
func (l *leafLink) Compression() string {
	if p := l.compression.Load(); p != nil {
		return *p
	}
	return ""
}

// s2Level re-evaluates an s2_auto link's level from a new round trip, as
// nats-server does on every PONG.
func (c *client) s2Level() {
	if c.kind != kindLeaf || c.compressionConfig() != compressAuto || c.rtt <= 0 {
		return
	}
	for t := c.tr; t != nil; t = t.link().up {
		if s, ok := t.(*s2Layer); ok {
			if lv := s2AutoLevel(time.Duration(c.rtt), c.compressionRTT()); lv != s.level {
				s.level = lv
				c.leaf.setCompression(lv)
			}
			return
		}
	}
}

// rerouteRest hands what followed an op that switched the transforms (a
// compression INFO) to the transform that now reads it.
func (c *client) rerouteRest(rest []byte) {
	t := c.reroute
	c.reroute = nil
	if len(rest) > 0 {
		t.input(c, rest)
	}
}
