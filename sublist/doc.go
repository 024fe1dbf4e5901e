// Package sublist is Canopy's subject interest index: which subscriptions a
// message published to a subject reaches, with NATS wildcards ("*" for one
// token, ">" for one or more at the end) and queue groups, as nats-server
// v2.15.2 matches them. It knows nothing of connections: a subscription is
// any comparable value T, typically a pointer to the server's subscription.
//
// # Structure
//
// Subscriptions live in a token tree. Each node has its literal children in
// a map and its "*" and ">" children beside it; plain subscriptions and
// queue groups are kept per node in ordered sets (a slice, plus a map index
// once a set outgrows a linear scan). Match walks the tree and builds an
// immutable Result, which is cached and shared by every caller that
// publishes to the same subject.
//
// # Threading contract
//
//   - Every Sublist method is safe for concurrent use from any goroutine.
//   - Insert and Remove take the tree's write lock, and a literal subject's
//     stripe lock to drop its cached result. Match takes one cache stripe's
//     read lock on a hit; on a miss, the tree's read lock, and the stripe's
//     write lock if it stores the result. Range holds the tree's read lock
//     while it calls back, so its callback must not call the same Sublist.
//   - Lock order: the tree lock, then a stripe lock. A hit takes only the
//     stripe lock; nothing takes the tree lock while holding a stripe lock.
//   - A Cache belongs to one goroutine (one event loop) and is not safe for
//     concurrent use. Its hits take no locks and write no shared memory; its
//     misses are Sublist matches. A Sublist may have any number of Caches.
//   - A Result is never modified once returned and never recycled, so it may
//     be kept and read from any goroutine. It describes the index as it was
//     at some moment during the Match call: a Match (through a Cache or not)
//     that starts after an Insert or Remove returned always reflects that
//     change; one running concurrently with a change may or may not.
//
// # Cache and invalidation
//
// The shared cache has 16 stripes, each a map from subject to entry under
// its own RWMutex, 256 entries at most. A full stripe takes a new subject
// only on its second recent sighting (a direct-mapped table of hash
// fingerprints remembers the first), and then evicts a random entry; so a
// flood of subjects published once, such as reply subjects, costs a tree
// walk each but neither allocates cache entries nor evicts the hot ones.
// An entry holds a Result and what it needs to know whether the Result is
// still right. Bumping one generation on every Insert and Remove, and
// treating any entry older than it as a miss, would be simple, but
// request/reply subscribes and unsubscribes all the time (old-style inboxes
// are one literal subscription per request, and every connection's
// new-style inbox is a wildcard), and under such churn nearly every match
// would miss. So invalidation is narrowed to what a change can reach:
//
//   - A literal subscription is reached only by the identical published
//     subject, so inserting or removing one deletes that one entry, if
//     cached, and nothing else.
//   - A wildcard subscription is reached only by subjects that share its
//     leading literal tokens. Each entry records three epoch counters and
//     their values: a root epoch, an epoch chosen by hashing the subject's
//     first token into 128 buckets, and one chosen by hashing its first two
//     tokens. A wildcard change moves exactly one counter: the root epoch
//     for "*.x" or ">", the first-token bucket for "foo.*" or "foo.>", the
//     two-token bucket for "foo.bar.*" or "_INBOX.abc.>". An entry whose
//     counters have moved is a miss.
//
// The trade-offs: a wildcard change also invalidates unrelated subjects
// whose prefixes share its bucket (1 in 128), and a wildcard with a leading
// wildcard token, such as a monitoring SUB ">", still empties the whole
// cache; an entry costs six more words; and a miss pays for hashing two
// prefixes. In exchange, literal churn costs each other subject nothing and
// inbox wildcard churn costs about 1/128 of the cache per change.
//
// A miss computes the Result under the tree's read lock and stores it before
// releasing that lock, so a change cannot slip in between and leave a stale
// entry behind. Every entry that leaves a stripe (invalidated, replaced or
// evicted) is first marked dead, because a Cache may still hold it; an entry
// a full stripe declined to store is returned already dead.
//
// A Cache maps subjects to shared entries, each stamped with the Sublist's
// generation (Gen, bumped after every change) at which it was last known to
// be live. If the generation has not moved, a hit is one atomic load and a
// map lookup. If it has, the Cache checks the entry's dead flag and epochs,
// which the change already updated before bumping the generation, and
// either restamps the entry or refetches it from the shared cache. Churn
// elsewhere in the index therefore costs a Cache hit a few atomic loads, not
// a miss. A Cache keeps a subject only when the shared cache already had it,
// so subjects published once, such as reply subjects, do not churn it.
//
// Stats follows nats-server: hits in a Cache, like hits in nats-server's
// per-connection caches, are not counted in NumMatches or CacheHitRate.
package sublist
