// Package leaf holds what is particular to leaf node links, apart from the
// connection machinery they share with clients (which lives in loop):
//
//   - the wire vocabulary of a link: the INFO and CONNECT documents, and
//     encoders for LS+ and LS- (proto.go; messages, LMSG and HMSG, are
//     framed with MSG by loop's one framer);
//   - the interest a server has told one link about, with the reference
//     counts that decide when an LS+ or LS- is due (interest.go);
//   - remotes: the configured systems this server dials as a leaf, their
//     URL lists (configured and discovered), credentials, and the dialling
//     loop that re-dials with backoff and jitter after any loss
//     (remote.go, creds.go).
//
// loop drives a link through the Host interface: leaf never touches a
// connection itself. Remote.Run dials on its own goroutine and hands each
// established net.Conn to Host.Enroll; the event loops own it from then on
// and call Remote.Closed when it ends.
package leaf
