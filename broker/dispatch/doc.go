// Package dispatch decides which consumer of a subscription gets which entry
// of the topic, and when: the four Pulsar subscription types as pure state
// machines. A dispatcher does no I/O, starts no goroutine and reads no clock.
// The driver (the broker's per-subscription goroutine) feeds it inputs — a
// consumer joined, permits arrived, a read completed, entries were acked —
// and after each input takes the resulting actions from Ready and carries
// them out: read entries, send MESSAGE frames, notify consumers. Like etcd
// raft's RawNode, every decision can be replayed from a script
// (testdata/*.txt).
//
// # Dispatchers
//
//	Exclusive  NewExclusive(cfg, markDelete)            exclusive.go
//	Failover   NewFailover(cfg, markDelete, partition)  failover.go
//	Shared     NewShared(cfg, markDelete)               shared.go
//	KeyShared  NewKeyShared(cfg, markDelete)            keyshared.go, hashranges.go
//
// Each is built for one subscription with the cursor's mark-delete position,
// and has the same methods, so the driver declares the interface it needs:
//
//	type dispatcher interface {
//		AddConsumer(dispatch.ConsumerInfo) error
//		RemoveConsumer(id uint64)
//		Flow(id uint64, permits uint32)
//		ReadCompleted([]dispatch.Entry)
//		NewEntries()
//		Acked([]dispatch.Position)
//		AckedUpTo(dispatch.Position)
//		Redeliver(id uint64, positions []dispatch.Position)
//		RewindTo(dispatch.Position)
//		TimerFired(seq uint64)
//		Ready() []dispatch.Action
//	}
//
// A subscription's type is fixed for the life of its dispatcher; to change it
// (allowed once every consumer has left) the driver builds a new one from the
// cursor's mark-delete position.
//
// # Driver contract
//
// A dispatcher is not safe for concurrent use: one goroutine owns it. After
// every input (or batch of inputs) the driver calls Ready and carries out the
// returned actions in order. Inputs:
//
//   - AddConsumer on SUBSCRIBE. ConsumerInfo.ID must be unique within the
//     subscription (Pulsar consumer ids are per connection). An error is the
//     answer to the SUBSCRIBE (ErrConsumerBusy → ConsumerBusy,
//     ErrConsumerAssign → ConsumerAssignError); on success the driver sends
//     SUCCESS before carrying out the resulting actions, because the client
//     drops frames for a consumer it has not yet seen succeed — an
//     ActiveConsumerChange among them. Seeing SUCCESS is not enough:
//     pulsar-client-go registers the consumer's handler on another goroutine
//     after reading it, so a frame right behind SUCCESS can still be dropped.
//     The driver holds ActiveConsumerChange and CloseConsumer for a new
//     consumer until its first FLOW, which the client sends only once the
//     handler exists.
//   - Flow on FLOW, with the permits in messages. A consumer starts with none.
//   - RemoveConsumer when a consumer closes, its connection drops, or it
//     unsubscribes. Unknown ids are ignored.
//   - ReadCompleted exactly once per Read action, with what the read found
//     (see Read for what that is). A failed read is retried by the driver,
//     with its own backoff; ReadCompleted reports only a successful one.
//   - NewEntries whenever entries are appended to the topic. Reading the tail
//     stops when a tail read comes back empty and resumes on NewEntries.
//   - Acked after the cursor has applied individual acks, with the positions
//     that are now fully acknowledged (a batch only once all its messages
//     are, when batch-index acks leave it partial). AckedUpTo whenever the
//     cursor's mark-delete position moves forward: individual acks filling a
//     gap, cumulative acks, TTL expiry, skip and clear-backlog.
//   - Redeliver on REDELIVER_UNACKNOWLEDGED_MESSAGES, with its positions (none
//     means all of the consumer's unacknowledged entries).
//   - RewindTo after the cursor has been reset (SEEK, reset-cursor): the next
//     entry delivered is the first one at or after the position, and the
//     cursor's mark-delete is just before it. The driver answers SEEK with
//     SUCCESS, then carries out the CloseConsumer actions that follow: the
//     client only resumes after it has been disconnected.
//   - TimerFired when a StartTimer's delay has elapsed.
//
// Actions:
//
//   - Read: read from the managed ledger and answer with ReadCompleted. At
//     most one Read is outstanding. A tail read (Replay empty) asks for up to
//     MaxEntries entries strictly after After, skipping acknowledged ones; a
//     replay read asks for exactly the listed positions, and a position left
//     out of the answer is taken as gone (deleted or acknowledged).
//   - Send: write one MESSAGE per entry, in order, to the consumer, with the
//     entry's RedeliveryCount as redelivery_count and its AckSet as ack_set.
//   - ActiveConsumerChange: send ACTIVE_CONSUMER_CHANGE (Failover only).
//   - StartTimer: call TimerFired(Seq) after the delay (Failover only). No
//     need to cancel timers; stale ones are ignored.
//   - CloseConsumer: send CLOSE_CONSUMER; the dispatcher has already dropped
//     the consumer.
//
// # Invariants
//
// These hold after every input; the fields that carry them say so with
// "Invariant:".
//
//   - At most one Read is outstanding, and one is issued only when some
//     consumer that may receive has permits. Entries waiting for redelivery
//     are read before new ones, in position order.
//   - Permits count messages: a batch of n messages (minus those its ack set
//     marks acknowledged) takes n. An entry is sent only to a consumer with
//     permits left, so a consumer overshoots by at most one entry per Send.
//   - Each entry is pending (sent, unacknowledged) on at most one consumer.
//     Shared and Key_Shared redeliver an entry only after it stopped being
//     pending: acked, negatively acked (redelivery count + 1), or its
//     consumer left (count unchanged). Exclusive and Failover redeliver by
//     rewinding to the mark-delete position, with count 0.
//   - Key_Shared: the entries of one hash are pending on at most one consumer
//     at a time, and an entry of a hash is sent only once every older
//     unacknowledged entry of that hash is pending on the same consumer: per
//     hash, delivery follows position order, save that a negatively acked
//     entry comes back after the younger ones its consumer already holds.
//   - Failover: at any time one consumer is active (none only when there are
//     no consumers) and only it receives entries; every consumer learns of
//     every change of the active one.
//
// # Choices
//
//   - Failover delay (activeConsumerFailoverDelayTimeMillis): modelled with
//     StartTimer/TimerFired. It applies only when the previous active consumer
//     is still connected (its in-flight acks are what the delay waits for);
//     when it has left, or at the first consumer, the switch is immediate, and
//     a delay ends early if the consumer it waits for leaves. Consumers are
//     told of the change at once; Pulsar tells them when the delay ends.
//   - Failover on a non-partitioned topic picks the first consumer to have
//     joined among the highest priority, as Pulsar documents (newer Pulsar can
//     hash the topic name onto a ring instead). Equal names are ordered by
//     join order.
//   - Key_Shared AUTO_SPLIT uses hash ranges (Pulsar's
//     subscriptionKeySharedUseConsistentHashing=false, as in pulsar-client-go's
//     test broker): of equally large ranges the lowest is split; a joiner
//     takes [start, start+size/2-1]. A leaving consumer's range merges right,
//     else left. The mode of a Key_Shared subscription is that of its first
//     consumer; a consumer asking for the other one gets ErrConsumerBusy.
//   - Key_Shared draining needs no table of its own: the per-hash rule "pending
//     on one consumer" blocks a hash whose range moved until the previous
//     consumer has acked its entries or left.
//   - Entries read but not sendable wait as positions only (Shared, Key_Shared:
//     the replay set, re-read later) or as entries (Exclusive, Failover: at
//     most one read's worth), so memory stays bounded. Key_Shared stops
//     reading new entries while its replay set is at the look-ahead limit.
//   - Shared serves consumers of a higher priority first, round robin among
//     equals in join order.
//
// Not modelled: delayed delivery (deliverAt), dispatch rate limits, consistent
// hashing for AUTO_SPLIT, allowOutOfOrderDelivery (ignored: the stricter order
// is kept), readCompacted, and per-message unacked counts of partially acked
// batches (a batch counts whole until fully acked).
package dispatch
