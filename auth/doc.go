// Package auth is Canopy's authentication and authorization layer: who a
// connection is (token, user/password with plain or bcrypt passwords, nkey
// users, no_auth_user, operator-mode user JWTs, client certificates mapped
// to users by verify_and_map), which account it belongs
// to, what it may publish and subscribe to, and the accounts' exports and
// imports. It behaves as nats-server v2.15.2 does (PROTOCOL.md section 3,
// 4.10 and 4.11) and knows nothing of connections or event loops: the
// server (loop/) calls it.
//
// # Threading
//
//   - Authenticator, AccountInfo, Export, Import and Identity are immutable
//     once built and safe for concurrent use from any goroutine.
//     Authenticate may be slow for bcrypt passwords (see Authenticator).
//   - Permissions are immutable and safe for concurrent use; Swap, Leaf and
//     WithDeny return new values. CanPublish, DeniedForDelivery and
//     LeafSendAllowed never allocate, so they may run on the hot path of any
//     loop (for example while fanning a message out to other loops'
//     connections).
//   - A Checker belongs to the event loop that owns its connection: Publish,
//     LeafSend and Subscribe are for that loop only. AddReply is called by
//     other loops when they deliver a request to the connection and is safe
//     for concurrent use; it locks a mutex that only exists when the
//     permissions have allow_responses.
//
// # Errors
//
// Authentication failures wrap ErrAuthorization and a specific cause;
// WireText turns any error of this package into the -ERR text nats-server
// would send. The Append*Violation helpers format permission violations.
// Configuration errors from New wrap ErrConfig.
package auth
