package server

import (
	"context"
	"math"
	"sort"
	"sync/atomic"

	"github.com/strata-io/strata/broker/dispatch"
	"github.com/strata-io/strata/broker/errcode"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

// consumerHandle is a consumer registered on this connection. It is the subscription's
// ConsumerSink: it turns deliveries into MESSAGE frames. Everything the subscription
// goroutine sends this consumer goes through its outbox, so that goroutine never waits
// for this connection.
type consumerHandle struct {
	c     *conn
	id    uint64 // the client's consumer_id
	topic *service.Topic
	cons  *service.Consumer
	out   *outbox
	// unsubscribing: the client's UNSUBSCRIBE is closing the subscription; the
	// consumer is not told CLOSE_CONSUMER (it would reconnect), only SUCCESS.
	unsubscribing atomic.Bool
}

func (h *consumerHandle) Deliver(msgs []service.Message) {
	fs := make([]outFrame, len(msgs))
	for i, m := range msgs {
		fs[i] = outFrame{cmd: wire.NewMessage(h.id, m.Pos.Ledger, m.Pos.Entry, m.RedeliveryCount, m.AckSet), entry: m.Entry}
	}
	h.out.push(fs...)
}

func (h *consumerHandle) ActiveChange(active bool) {
	h.out.push(outFrame{cmd: wire.NewActiveConsumerChange(h.id, active)})
}

// reply sends an answer that concerns this consumer in order with its other frames.
func (h *consumerHandle) reply(cmd *pulsar.BaseCommand) { h.out.push(outFrame{cmd: cmd}) }

// Close is the broker closing the consumer (topic unloaded, subscription reset or
// deleted): the client reconnects.
func (h *consumerHandle) Close() {
	h.c.mu.Lock()
	mine := h.c.consumers[h.id] == h
	if mine {
		delete(h.c.consumers, h.id)
	}
	h.c.mu.Unlock()
	if mine && !h.unsubscribing.Load() {
		h.reply(wire.NewCloseConsumer(h.id, 0, "", ""))
	}
	h.out.finish()
}

// detach removes the consumer from its subscription (connection gone, or the client
// closed it).
func (h *consumerHandle) detach() {
	if h.cons != nil {
		h.cons.Remove()
	}
	h.out.finish()
}

// handleConsumerCommand handles the consumer-side commands; false for others.
func (c *conn) handleConsumerCommand(f wire.Frame) bool {
	cmd := f.Command
	switch cmd.GetType() {
	case pulsar.BaseCommand_SUBSCRIBE:
		c.handleSubscribe(cmd.GetSubscribe())
	case pulsar.BaseCommand_FLOW:
		if h := c.consumer(cmd.GetFlow().GetConsumerId()); h != nil {
			h.cons.Flow(cmd.GetFlow().GetMessagePermits())
		}
	case pulsar.BaseCommand_ACK:
		c.handleAck(cmd.GetAck())
	case pulsar.BaseCommand_REDELIVER_UNACKNOWLEDGED_MESSAGES:
		r := cmd.GetRedeliverUnacknowledgedMessages()
		if h := c.consumer(r.GetConsumerId()); h != nil {
			ps := make([]managedledger.Position, 0, len(r.GetMessageIds()))
			for _, id := range r.GetMessageIds() {
				ps = append(ps, position(id))
			}
			h.cons.Redeliver(ps)
		}
	case pulsar.BaseCommand_CLOSE_CONSUMER:
		cc := cmd.GetCloseConsumer()
		c.mu.Lock()
		h := c.consumers[cc.GetConsumerId()]
		delete(c.consumers, cc.GetConsumerId())
		c.mu.Unlock()
		if h != nil {
			c.async(func(context.Context) { h.detach(); c.send(wire.NewSuccess(cc.GetRequestId())) })
		} else {
			c.send(wire.NewSuccess(cc.GetRequestId()))
		}
	case pulsar.BaseCommand_UNSUBSCRIBE:
		c.handleUnsubscribe(cmd.GetUnsubscribe())
	case pulsar.BaseCommand_SEEK:
		c.handleSeek(cmd.GetSeek())
	case pulsar.BaseCommand_GET_LAST_MESSAGE_ID:
		c.handleGetLastMessageID(cmd.GetGetLastMessageId())
	case pulsar.BaseCommand_CONSUMER_STATS:
		c.send(wire.NewConsumerStatsResponse(cmd.GetConsumerStats().GetRequestId()))
	default:
		return false
	}
	return true
}

func (c *conn) consumer(id uint64) *consumerHandle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.consumers[id]
}

// position converts a wire message id; -1 arrives as 2^64-1 and converts back.
func position(id *pulsar.MessageIdData) managedledger.Position {
	return managedledger.Position{Ledger: int64(id.GetLedgerId()), Entry: int64(id.GetEntryId())}
}

func (c *conn) handleSubscribe(cmd *pulsar.CommandSubscribe) {
	reqID, consID := cmd.GetRequestId(), cmd.GetConsumerId()
	if c.consumer(consID) != nil {
		// A retried SUBSCRIBE on the same connection: already done.
		c.send(wire.NewSuccess(reqID))
		return
	}
	c.async(func(ctx context.Context) {
		name, err := topic.Parse(cmd.GetTopic())
		if err != nil {
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		create := cmd.ForceTopicCreation == nil || cmd.GetForceTopicCreation()
		t, err := c.srv.svc.Topic(ctx, name, create)
		if err != nil {
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		h := &consumerHandle{c: c, id: consID, topic: t, out: newOutbox(c)}
		spec := service.SubscribeSpec{
			Subscription: cmd.GetSubscription(),
			Type:         service.SubType(cmd.GetSubType()),
			Durable:      cmd.Durable == nil || cmd.GetDurable(),
			Initial:      managedledger.Latest,
			Consumer:     service.ConsumerSpec{Name: cmd.GetConsumerName(), Priority: cmd.GetPriorityLevel(), Sink: h},
		}
		if cmd.GetInitialPosition() == pulsar.CommandSubscribe_Earliest {
			spec.Initial = managedledger.Earliest
		}
		if !spec.Durable && cmd.StartMessageId != nil {
			p := position(cmd.StartMessageId)
			if cmd.StartMessageId.GetLedgerId() == math.MaxInt64 {
				p.Ledger = math.MaxInt64
			}
			spec.StartMessageID = &p
		}
		if spec.Type == service.SubKeyShared {
			spec.Consumer.KeyShared = keySharedMeta(cmd.GetKeySharedMeta())
		}
		cons, err := t.Subscribe(ctx, spec)
		if err != nil {
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		h.cons = cons
		c.mu.Lock()
		select {
		case <-c.done:
			c.mu.Unlock()
			cons.Remove()
			return
		default:
		}
		c.consumers[consID] = h
		c.mu.Unlock()
		c.send(wire.NewSuccess(reqID))
		cons.Start()
	})
}

func keySharedMeta(m *pulsar.KeySharedMeta) *dispatch.KeySharedMeta {
	if m == nil {
		return &dispatch.KeySharedMeta{Mode: dispatch.AutoSplit}
	}
	out := &dispatch.KeySharedMeta{AllowOutOfOrderDelivery: m.GetAllowOutOfOrderDelivery()}
	if m.GetKeySharedMode() == pulsar.KeySharedMode_STICKY {
		out.Mode = dispatch.Sticky
	}
	for _, r := range m.GetHashRanges() {
		out.Ranges = append(out.Ranges, dispatch.Range{Start: r.GetStart(), End: r.GetEnd()})
	}
	return out
}

func (c *conn) handleAck(a *pulsar.CommandAck) {
	h := c.consumer(a.GetConsumerId())
	var done func(error)
	if a.RequestId != nil {
		reqID := a.GetRequestId()
		// done runs on the subscription goroutine: answer through the outbox.
		send := c.send
		if h != nil {
			send = h.reply
		}
		done = func(err error) {
			if err != nil {
				send(wire.NewAckResponseError(a.GetConsumerId(), reqID, errcode.ServerError(err), err.Error()))
				return
			}
			send(wire.NewAckResponse(a.GetConsumerId(), reqID))
		}
	}
	if h == nil {
		if done != nil {
			done(nil) // acks for unknown consumers are ignored, as Pulsar does
		}
		return
	}
	acks := make([]service.Ack, 0, len(a.GetMessageId()))
	for _, id := range a.GetMessageId() {
		acks = append(acks, service.Ack{Pos: position(id), BatchSize: ackBatchSize(id), AckSet: id.GetAckSet()})
	}
	if a.GetAckType() == pulsar.CommandAck_Cumulative {
		if len(acks) == 0 {
			if done != nil {
				done(nil)
			}
			return
		}
		h.cons.AckCumulative(acks[0], done)
		return
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i].Pos.Less(acks[j].Pos) })
	h.cons.AckIndividual(acks, done)
}

// ackBatchSize is the batch size to apply a batch-index ack with. pulsar-client-go
// v0.19.0 sends ack_set without batch_size (consumer_partition.go internalAck,
// ack_grouping_tracker.go toMsgIDDataList), as Pulsar's broker does not need it: its
// ack_set has one bit per message, set while unacked, and bits past the batch are clear.
// Without a batch_size we take every bit the words can hold: the extra indexes read as
// acknowledged, so the entry counts as acknowledged exactly when the client's real bits
// are all clear, and a redelivery's ack_set carries the same set bits.
func ackBatchSize(id *pulsar.MessageIdData) int {
	if n := int(id.GetBatchSize()); n > 0 || len(id.GetAckSet()) == 0 {
		return n
	}
	return 64 * len(id.GetAckSet())
}

func (c *conn) handleUnsubscribe(u *pulsar.CommandUnsubscribe) {
	reqID := u.GetRequestId()
	h := c.consumer(u.GetConsumerId())
	if h == nil {
		c.send(wire.NewError(reqID, pulsar.ServerError_ConsumerNotFound, "no consumer with this id on the connection"))
		return
	}
	c.async(func(ctx context.Context) {
		h.unsubscribing.Store(true)
		err := h.topic.Unsubscribe(ctx, h.cons.Subscription(), h.cons, u.GetForce())
		if err != nil {
			h.unsubscribing.Store(false)
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		c.mu.Lock()
		if c.consumers[h.id] == h {
			delete(c.consumers, h.id)
		}
		c.mu.Unlock()
		c.send(wire.NewSuccess(reqID))
	})
}

func (c *conn) handleSeek(s *pulsar.CommandSeek) {
	reqID := s.GetRequestId()
	h := c.consumer(s.GetConsumerId())
	if h == nil {
		c.send(wire.NewError(reqID, pulsar.ServerError_ConsumerNotFound, "no consumer with this id on the connection"))
		return
	}
	c.async(func(ctx context.Context) {
		var to managedledger.Position
		if s.MessageId != nil {
			to = position(s.MessageId)
			if s.MessageId.GetLedgerId() == math.MaxUint64 {
				to = managedledger.Position{Ledger: -1, Entry: -1}
			}
		} else {
			p, err := h.topic.FindByPublishTime(ctx, int64(s.GetMessagePublishTime()))
			if err != nil {
				c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
				return
			}
			to = p
		}
		done := make(chan struct{})
		// onDone runs on the subscription goroutine, before it closes the consumers: the
		// answer goes through the outbox, after the messages sent before the seek and
		// before CLOSE_CONSUMER.
		h.cons.Subscription().Seek(to, func(err error) {
			defer close(done)
			if err != nil {
				h.reply(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
				return
			}
			h.reply(wire.NewSuccess(reqID))
		})
		<-done
	})
}

func (c *conn) handleGetLastMessageID(g *pulsar.CommandGetLastMessageId) {
	reqID := g.GetRequestId()
	h := c.consumer(g.GetConsumerId())
	if h == nil {
		c.send(wire.NewError(reqID, pulsar.ServerError_ConsumerNotFound, "no consumer with this id on the connection"))
		return
	}
	c.async(func(ctx context.Context) {
		last, batchIdx, err := h.topic.LastMessage(ctx)
		if err != nil {
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		var lastID *pulsar.MessageIdData
		if last.Entry >= 0 {
			lastID = wire.MessageID(last.Ledger, last.Entry)
			lastID.BatchIndex = &batchIdx
		}
		md := h.cons.Subscription().Cursor().MarkDelete()
		c.send(wire.NewGetLastMessageIDResponse(reqID, lastID, wire.MessageID(md.Ledger, md.Entry)))
	})
}
