// Package server speaks the Pulsar binary protocol to clients: one goroutine reads and
// handles a connection's frames, one writes its outgoing frames in batches. It turns
// commands into calls on broker/service and service events (messages for a consumer, a
// producer closed by the broker) into frames.
//
// Rules the Go client relies on (../shared/reference/pulsar-protocol.md):
//   - CONNECTED is the first frame we send; nothing else before the handshake.
//   - SEND_RECEIPTs leave in send order per producer (the service calls back in order
//     and the writer keeps the order of its queue).
//   - We never send a command the client cannot handle (no REACHED_END_OF_TOPIC).
//   - A malformed frame ends that connection only; a bad message (checksum) gets a
//     SEND_ERROR; no client bytes can panic the broker.
//
// Who may wait for a connection: only its own goroutines. Code running on a shared
// goroutine — a topic's managed-ledger callbacks, a subscription's goroutine — only
// queues, without waiting: SEND answers go to conn.sendAnswers (bounded by the publish
// slots they hold), a consumer's frames to its outbox (outbox.go). So a client that
// stops reading stalls its own connection and nobody else's.
package server
