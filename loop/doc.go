// Package loop is Canopy's reactor: it owns the gnet engine, the listeners,
// every connection's lifecycle, the dispatch of parsed ops, message delivery
// with per-destination batching, timers and back-pressure.
//
// # Threading contract
//
// gnet runs N event loops, each a goroutine. Canopy keeps one worker per
// loop, and every connection (client) belongs to exactly one worker for its
// whole life.
//
//   - A client's fields are read and written only by its worker's loop,
//     except the few marked "shared" in their declarations, which are atomic
//     and may be read from any loop (closed, headers, counters, weights).
//   - Delivering to a client on another loop never touches that client's
//     buffers: the publisher appends the framed message to a batch addressed
//     to the destination worker, and at the end of the traffic event hands
//     the whole batch over (worker.push). The destination drains its inbox on
//     its own loop (worker.drain), with at most one wake-up pending per
//     worker; the flag that says one is pending is cleared under the same
//     lock that takes the batches, so no wake-up is lost. A wake-up is a
//     byte written to the send end of the destination's socket pair
//     (wake.go; the file is guarded by the worker's wakeMu, which its loop
//     takes to close it at shutdown), or a gnet Execute before the pair is
//     registered. The destination writes each receiver's slices of the
//     batches with writev, without copying them, and hands the batches
//     back to the loop that filled them (its free list, under its freeMu)
//     only after those writes.
//   - Message counters are plain fields of the loop that owns them (the
//     worker's, the receiving client's, a subscription's delivered count)
//     and are published to atomics once per event for monitoring; no
//     counter is written from two cores per message. A subscription with
//     an UNSUB max is the exception: publishers count towards the max.
//   - Back-pressure crosses loops through one figure per client,
//     pendingOut, which its own loop stores after each write and refreshes
//     when a waiting publisher asks (refreshPending); the publisher only
//     reads it.
//   - Costly authentication (signatures, bcrypt) runs on the auth workers
//     (authwork.go), goroutines of their own, fed by a queue a loop never
//     waits on; the result comes back to the connection's loop as a task,
//     and input that arrived meanwhile waits in the connection, untouched
//     by any other goroutine. A worker uses the authenticator the loop read
//     when it queued the check, and reads only the connection's closed
//     flag; back on the loop, a result from an authenticator a reload has
//     since replaced is checked again (checkOffLoop).
//   - Sublists are safe for concurrent use; each worker keeps its own L1 match
//     cache per account, checked against the sublist's generation.
//   - An account's interest map (what its leaf links have been told) is
//     guarded by the account's mutex; it is touched on SUB/UNSUB, never per
//     message.
//   - A leaf remote dials on its own goroutine and hands the connection to
//     gnet with Server.Enroll, which first waits for the first tick (gnet
//     starts its ticker once every loop runs). A leaf link's permissions
//     are an atomic pointer, replaced by its own loop and read by the
//     loops that deliver to it; its closing flag may be set from any loop
//     (a newer link replaced it). Leafz reads the links under the account
//     mutex and their interest from the sublist.
//   - An internal subscription's callback (internal.go) runs on the
//     publisher's loop, with the message borrowed from that event; it
//     must copy what it keeps and never block. The system account's
//     services (sysacc.go, events.go) copy a request or an event into a
//     bounded queue, dropping it when full, and build the answer on
//     the system goroutine through the Reporter (the monitor), which
//     reads what the operator's entry points read. What the server
//     publishes itself goes through publishInternal, callable from any
//     goroutine: a queue under its own mutex, drained by a task on one
//     loop (always the same, so the server's messages keep their order).
//   - OnTick runs on gnet's ticker goroutine; it only asks each worker for
//     a tick (through its wake-up pair, or Execute), and the worker then
//     checks its clients' timers on the loop.
//   - Server fields written after Start are guarded by Server.mu; the hot
//     path reads none of them.
//   - The operator's entry points (Stats, Conns, Subscriptions, Account,
//     Reload, LameDuck; ops.go, stats.go, reload.go, lameduck.go) run on
//     the caller's goroutine, never on a loop. They read atomics and
//     sublists directly, and what a loop owns by running a task on each
//     loop (onLoops) and waiting for the answers, with a timeout.
//   - The options and the authenticator are read by the loops without a
//     lock. Reload replaces them only while every loop is parked in a
//     task (pauseLoops), holding wmu so that a loop not yet seen waits in
//     workerOf; the account infos are replaced at the same time. A
//     directory resolver installs a new authenticator the same way when
//     its account JWTs change (claims.go, applyResolver).
//
// Lock order: Server.ops.reloadMu, then Server.wmu (only Reload and
// applyResolver take both), then Server.mu, then account.mu, then
// worker.mu; opsState.mu, internalState.mu, sysState.mu and
// resolverState.mu are leaves.
// No lock is held while calling into gnet.
//
// # Transport: TLS, leaf compression and websocket
//
// Every byte a connection reads passes its transforms before the parser,
// and every byte it writes passes them after the framing (write.go): TLS
// (tls.go) next to the socket, leaf S2 compression (s2.go) above it. A
// connection without one is plaintext and pays nothing for the seam: one
// nil check per event and per flush.
//
// TLS is Go's crypto/tls, driven in two ways:
//
//   - The handshake (public-key crypto: milliseconds) runs on a goroutine
//     of its own, never on a loop. It reads what OnTraffic hands over
//     through a pipe guarded by a mutex and a condition variable, and
//     writes with gnet's AsyncWrite. A timer fails the pipe when the TLS
//     timeout passes. When the handshake ends, the result comes back to
//     the loop as a task (onLoop), like costly authentication does, and
//     the goroutine exits: an idle TLS connection holds no goroutine.
//   - After it, the tls.Conn lives on the loop over the same pipe, now
//     non-blocking: Read takes the bytes of the current OnTraffic without
//     copying them and, once they are used up, returns a net.Error whose
//     Temporary() is true, which crypto/tls (conn.go readRecordOrCCS)
//     treats as "try again later" without poisoning the connection. So
//     decryption happens in the traffic event, and encryption in flushOut:
//     the pieces to write are gathered into 64 KiB of plaintext per
//     tls.Conn.Write (whole records straight from a large piece, without
//     a copy), and the records into one gnet write per 256 KiB. The
//     worker owns the scratch buffers, so a connection holds none.
//
// The alternative, a socketpair per connection bridged to a tls.Conn by
// two goroutines (which is what nats-server's goroutine-per-connection
// design amounts to), was ruled out on measurement: nats-server holds
// 51-55 KB per idle TLS connection on this machine, and the two bridging
// goroutines' stacks and the socketpair's kernel buffers alone would pass
// the 10 KB goal; every batch would also cross the kernel twice more. The
// in-memory pipe measured 17 KB per idle TLS connection (RSS, 3,000
// connections; about 7.5 KB of it live heap: crypto/tls's own buffers and
// AES-GCM state), 0 allocations per message on the TLS path
// (BenchmarkPubSubTLS), and the handshake never blocks a loop.
//
// Output waits while a handshake is under way (holding); what other loops
// handed over meanwhile is copied, since their batches are recycled after
// the event. Back-pressure (pending bytes, SIOCOUTQ, write_deadline, slow
// consumers) counts what gnet and the kernel hold, which for a TLS or a
// compressed connection is what the transforms produced.
//
// Leaf compression is negotiated with INFOs (leafcompress.go) and switches
// the reading side at an op boundary: the INFO that turns it on makes the
// parser stop (parser.ErrStop), and what followed it in the same read goes
// to the new layer (client.reroute). A decompressed block of up to a
// megabyte is parsed in read-sized pieces with a flush between them, as if
// it had come in reads of its own.
//
// Websocket framing (ws.go, wsconn.go) is one more transform: above TLS
// on the websocket port (wss), and under leaf compression's place, which
// for a websocket link is below the frames (nats-server compresses the
// framed bytes). The HTTP upgrade is read and answered on the loop by the
// same transform, holding output until it is done; the request's path
// decides whether the connection becomes a client or a leaf link. Frames
// are decoded in place as they arrive, a control frame is written at
// once, and each flush is one binary frame (compressed as one message per
// 512 KiB when permessage-deflate was negotiated). The deflater, the
// inflater and the scratch buffers are the worker's, so an idle websocket
// connection holds none.
//
// # Ordering
//
// A connection's ops are processed in order. Within one traffic event all
// deliveries are appended before the event's output is flushed, and batches
// for other loops are handed over before the publisher's own output (its
// PONG) is written, so a PONG never overtakes the messages it follows.
// Wake-ups may come in any order, but a publisher's
// messages to one destination travel in batch order through one inbox, so
// per-publisher order holds. A traffic event first takes what is waiting in
// its loop's inbox: once a publisher has its PONG, the messages it sent
// before are ahead of any later PONG to their subscribers.
package loop
