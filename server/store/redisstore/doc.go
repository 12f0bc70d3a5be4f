// Package redisstore keeps vigil-server's secrets in Redis, so that several
// vigil-server instances behind a load balancer share one store.
//
// Each secret is one Redis string under Prefix + kind + ":" + id (for
// example "vigil:secret:ID"), holding a one-byte header, the TTL in seconds as
// a varint, and the ciphertext. Redis's own key expiry removes it: an expired
// secret is never returned.
//
//   - Create is SET key value NX EX seconds: it never overwrites.
//   - Get reads the header with GETRANGE key 0 0; a one-time secret is then
//     claimed with GETDEL, which returns the value to exactly one caller
//     however many race for it, in any number of processes. On a Redis older
//     than 6.2 (no GETDEL) a Lua script does GET and DEL atomically instead;
//     the store switches to it the first time Redis answers "unknown command".
//   - Status is GETRANGE key 0 0: it never moves or consumes the value.
//   - Delete is DEL; Ping is PING.
//
// Every operation is bounded (DialTimeout + ReadTimeout in all, retries
// included), and every failure that means "Redis cannot serve now"
// (refused, timed out, LOADING, READONLY, CLUSTERDOWN, ...) wraps
// store.ErrUnavailable with a short message that holds neither a password nor
// an id. Open does not need Redis to be up: the store reports unavailable
// until Redis answers and recovers by itself when it does.
//
// See DOC.md for the URL forms and deployment notes.
package redisstore
