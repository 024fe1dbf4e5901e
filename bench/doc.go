// Package bench is Canopy's load-generation harness: it drives any NATS
// server (nats-server or Canopy) through real clients and checks every
// message it moves.
//
// Run performs one scenario (Pub, PubSub, Queue, ReqRep, Leaf, Conns) and
// returns a Result; Compare runs one scenario against two servers in
// alternation; RunSuite starts two server programs itself and runs every case
// of the comparison the project tracks (the body of `make bench-compare`).
// WriteTable, WriteJSON and WriteCSV (and their Comparison and Suite
// counterparts) print the outcomes; WriteSuiteHTML and WriteResultsHTML draw
// them as one self-contained HTML page of charts (gonum.org/v1/plot, PNGs
// embedded as data: URLs).
//
// # Connection scale
//
// Conns opens its idle connections from as many loopback source addresses
// as keep each within an eighth of the ephemeral port range, raises its own
// RLIMIT_NOFILE as far as the process may, reads the server's memory once
// they have sat idle for three seconds, then times one PING/PONG at a time
// on a random sample of them. The suite's --conn-curve runs it at several
// counts, for memory, opening rate and PING latency against the count.
//
// # Integrity
//
// Each message carries a 16-byte tag (kind, run id, publisher id, sequence
// number) at the start of its payload, or in a header when the payload is
// smaller than that. Every receiving unit (a subscriber, or a whole queue
// group) keeps a bitmap of the sequence numbers of each publisher, and each
// subscription remembers the last sequence it saw from each publisher, so a
// lost, duplicated, reordered or foreign message is counted exactly and fails
// the run with an error wrapping ErrIntegrity. The end of a run is found by
// barriers, never by sleeping: publishers Flush (PING/PONG), receivers signal
// when their expected count is reached (or the timeout passes), and subscriber
// connections Drain so that anything already sent is counted.
//
// # TLS
//
// Options.TLS (or a tls:// URL) puts every connection of a run on TLS:
// nats.go's own for publishers and subscribers, crypto/tls clients that
// upgrade after the plaintext INFO for idle connections. RunSuite's tls-*
// cases make a CA and a server certificate for 127.0.0.1 with MakeCerts and
// write the same tls blocks into A's and B's configs: on the client port, or
// only on the leaf link.
//
// # Chaos
//
// RunChaos (`make chaos`, cmd/canopy-chaos) starts each server program as a
// hub with a leaf that solicits it, runs a steady flow of sequence-numbered,
// checksummed messages from the leaf to a subscriber on the hub for the
// whole run, and puts the hub through each scenario of chaosScenarios in
// turn: protocol fuzz of the client and leafnode ports from many
// connections (the same bytes for every server, from one seed), repeated
// leaf CONNECTs, an LS+ flood, SIGSTOP, kill -9 and restart of the hub, a
// SIGHUP storm with clients connecting, a bcrypt CONNECT storm and a slow
// consumer. After each it checks that the hub answers PING on a new
// connection, that /varz's connections, leafnodes and subscriptions are
// back at their baseline, that the live heap (from the profiling port,
// after two collections) and the RSS are near theirs, and that the flow
// delivers again with nothing duplicated, reordered or corrupted.
// WriteChaosTable prints the servers' figures for each scenario together.
//
// # Threading
//
//   - Run, Compare and RunSuite may be called from any goroutine; calls share
//     nothing except the process's open-file limit, which Conns raises.
//   - Within a run, each publisher and requester has its own goroutine and
//     connection. Each subscription's handler runs on that subscription's
//     nats.go delivery goroutine; handlers of one queue group run
//     concurrently and meet only in atomics (see group).
//   - The run's own goroutine waits on channels the handlers close and reads
//     the totals only after every subscriber connection has drained.
//   - The idle-connection scenario has no goroutine per connection: a pool of
//     dialers does the handshakes, and the run's goroutine sweeps all sockets
//     for server PINGs while they are held.
package bench
