package loop

import "sync/atomic"

// Per-account message counters, as nats-server's account statistics
// (/accstatz, the account STATZ and CONNS answers): what the account's
// connections published ("received" by the server) and what was delivered
// in the account ("sent"), each with the part that crossed leaf links.
//
// Each account keeps one accLoopStats per loop, written by that loop only.
// Deliveries are counted in plain fields once per published message (one
// addition per message, not per receiver) and published to the atomics
// once per event (worker.flush); what a connection published is taken from
// its own counters when they are published (client.syncStats), so reading
// a PUB costs nothing more. No counter is shared between loops.

// accLoopStats are one loop's counters for one account.
type accLoopStats struct {
	// Owned by the loop: deliveries in the account since the last
	// publish; dirty says the stats are on the loop's list.
	nOut, nOutBytes, nLeafOut, nLeafOutBytes int64
	dirty                                    bool

	// Published for monitoring.
	inMsgs, inBytes, leafInMsgs, leafInBytes     atomic.Int64
	outMsgs, outBytes, leafOutMsgs, leafOutBytes atomic.Int64
}

// AccountTraffic is an account's message figures since start: Received is
// what its connections published, Sent what was delivered in it; the
// Leaf figures are the part that came in or went out over leaf links.
type AccountTraffic struct {
	InMsgs, InBytes, LeafInMsgs, LeafInBytes     int64
	OutMsgs, OutBytes, LeafOutMsgs, LeafOutBytes int64
	SlowConsumers                                int64
}

// countOut counts one message delivered in a to n receivers, leafs of them
// over leaf links. It runs on w's loop, once per published message.
func (w *worker) countOut(a *account, n, leafs int, size int) {
	st := a.stats[w.id]
	st.nOut += int64(n)
	st.nOutBytes += int64(n) * int64(size)
	if leafs > 0 {
		st.nLeafOut += int64(leafs)
		st.nLeafOutBytes += int64(leafs) * int64(size)
	}
	if !st.dirty {
		st.dirty = true
		w.accDirty = append(w.accDirty, st)
	}
}

// syncAccStats publishes the deliveries counted during the event.
func (w *worker) syncAccStats() {
	for i, st := range w.accDirty {
		w.accDirty[i] = nil
		st.dirty = false
		st.outMsgs.Add(st.nOut)
		st.outBytes.Add(st.nOutBytes)
		if st.nLeafOut > 0 {
			st.leafOutMsgs.Add(st.nLeafOut)
			st.leafOutBytes.Add(st.nLeafOutBytes)
		}
		st.nOut, st.nOutBytes, st.nLeafOut, st.nLeafOutBytes = 0, 0, 0, 0
	}
	w.accDirty = w.accDirty[:0]
}

// accountIn adds what c published since its counters were last published
// to its account's figures. It runs on c's loop, from syncStats.
func (c *client) accountIn(msgs, bytes int64) {
	a := c.acc
	if a == nil || (c.kind != kindClient && c.kind != kindLeaf) {
		return
	}
	st := a.stats[c.w.id]
	st.inMsgs.Add(msgs)
	st.inBytes.Add(bytes)
	if c.kind == kindLeaf {
		st.leafInMsgs.Add(msgs)
		st.leafInBytes.Add(bytes)
	}
}

// traffic adds up the loops' figures of a.
func (a *account) traffic() AccountTraffic {
	var t AccountTraffic
	for _, st := range a.stats {
		t.InMsgs += st.inMsgs.Load()
		t.InBytes += st.inBytes.Load()
		t.LeafInMsgs += st.leafInMsgs.Load()
		t.LeafInBytes += st.leafInBytes.Load()
		t.OutMsgs += st.outMsgs.Load()
		t.OutBytes += st.outBytes.Load()
		t.LeafOutMsgs += st.leafOutMsgs.Load()
		t.LeafOutBytes += st.leafOutBytes.Load()
	}
	t.SlowConsumers = a.slow.Load()
	return t
}

// countSlow counts c, found a slow consumer, against its account. Rare:
// an atomic is fine.
func (c *client) countSlow() {
	if c.acc != nil {
		c.acc.slow.Add(1)
	}
}
