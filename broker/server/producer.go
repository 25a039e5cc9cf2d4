package server

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/broker/errcode"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

// producerHandle is a producer registered on this connection.
type producerHandle struct {
	id    uint64
	topic *service.Topic
	p     *service.Producer
}

func accessMode(m pulsar.ProducerAccessMode) service.AccessMode {
	switch m {
	case pulsar.ProducerAccessMode_Exclusive:
		return service.AccessExclusive
	case pulsar.ProducerAccessMode_WaitForExclusive:
		return service.AccessWaitForExclusive
	case pulsar.ProducerAccessMode_ExclusiveWithFencing:
		return service.AccessExclusiveWithFencing
	default:
		return service.AccessShared
	}
}

func (c *conn) handleProducer(cmd *pulsar.CommandProducer) {
	reqID, prodID := cmd.GetRequestId(), cmd.GetProducerId()
	c.mu.Lock()
	if existing, ok := c.producers[prodID]; ok {
		c.mu.Unlock()
		// The client retried its create on the same connection: answer the same.
		c.send(wire.NewProducerSuccess(reqID, existing.p.Name(), existing.topic.LastSequenceID(existing.p.Name()), nil))
		return
	}
	c.mu.Unlock()
	c.async(func(ctx context.Context) {
		name, err := topic.Parse(cmd.GetTopic())
		if err != nil {
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		t, err := c.srv.svc.Topic(ctx, name, true)
		if err != nil {
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		h := &producerHandle{id: prodID, topic: t}
		spec := service.ProducerSpec{AccessMode: accessMode(cmd.GetProducerAccessMode())}
		if cmd.GetUserProvidedProducerName() || cmd.ProducerName != nil {
			spec.Name = cmd.GetProducerName()
		}
		spec.OnClose = func() { c.brokerClosedProducer(h) }
		p, err := t.AddProducer(ctx, spec)
		if err != nil {
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		h.p = p
		// A producer with a schema registers it now, so the client need not send
		// GET_OR_CREATE_SCHEMA before its first message.
		var schemaVer []byte
		if cmd.Schema != nil {
			v, err := c.srv.svc.Schemas.GetOrCreate(ctx, name, schemaInfo(cmd.GetSchema()))
			if err != nil {
				t.RemoveProducer(p)
				c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
				return
			}
			schemaVer = schemaVersionBytes(v)
		}
		if sub := cmd.GetInitialSubscriptionName(); sub != "" {
			if err := t.EnsureSubscription(ctx, sub); err != nil {
				t.RemoveProducer(p)
				c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
				return
			}
		}
		c.mu.Lock()
		select {
		case <-c.done:
			c.mu.Unlock()
			t.RemoveProducer(p)
			return
		default:
		}
		c.producers[prodID] = h
		c.mu.Unlock()
		select {
		case <-p.Ready():
		default:
			// WaitForExclusive: tell the client to wait, then succeed once it is our turn.
			wait := wire.NewProducerSuccess(reqID, p.Name(), -1, nil)
			wait.ProducerSuccess.ProducerReady = proto.Bool(false)
			c.send(wait)
			select {
			case <-p.Ready():
			case <-c.done:
				return
			}
		}
		c.send(wire.NewProducerSuccess(reqID, p.Name(), t.LastSequenceID(p.Name()), schemaVer))
	})
}

// brokerClosedProducer tells the client its producer was closed by the broker (topic
// unloaded or moved); the client reconnects through lookup.
func (c *conn) brokerClosedProducer(h *producerHandle) {
	c.mu.Lock()
	if c.producers[h.id] != h {
		c.mu.Unlock()
		return
	}
	delete(c.producers, h.id)
	c.mu.Unlock()
	c.send(wire.NewCloseProducer(h.id, 0, "", ""))
}

// handleSend stores a SEND's entry. Every SEND gets exactly one answer, SEND_RECEIPT or
// SEND_ERROR, through c.sendAnswers, so a producer's answers keep their order.
func (c *conn) handleSend(cmd *pulsar.CommandSend, f wire.Frame) {
	prodID, seq := cmd.GetProducerId(), cmd.GetSequenceId()
	// Back-pressure: at most MaxPendingPublishPerConnection SENDs whose answer the
	// writer has not taken yet; past that this connection stops reading.
	select {
	case c.publishSlots <- struct{}{}:
	case <-c.done:
		return
	}
	c.mu.Lock()
	h := c.producers[prodID]
	c.mu.Unlock()
	if h == nil {
		c.sendAnswer(wire.NewSendError(prodID, seq, pulsar.ServerError_NotAllowedError, "no producer with this id on the connection"))
		return
	}
	select {
	case <-h.p.Ready():
	default:
		c.sendAnswer(wire.NewSendError(prodID, seq, pulsar.ServerError_NotAllowedError, "producer is waiting for exclusive access"))
		return
	}
	if f.PayloadErr != nil {
		code := pulsar.ServerError_PersistenceError
		var ce *wire.ChecksumError
		if errors.As(f.PayloadErr, &ce) {
			code = pulsar.ServerError_ChecksumError
		}
		c.sendAnswer(wire.NewSendError(prodID, seq, code, f.PayloadErr.Error()))
		return
	}
	n := int(cmd.GetNumMessages())
	if n <= 0 {
		n = 1
	}
	// The callback runs on the topic's managed-ledger goroutine: it must not wait for
	// this connection, and sendAnswer does not.
	msg := service.PublishMessage{Producer: h.p.Name(), From: h.p, SequenceID: int64(seq),
		HighestSequenceID: int64(cmd.GetHighestSequenceId()), Entry: f.Payload.Entry, NumMessages: n}
	h.topic.Publish(msg, func(pos managedledger.Position, err error) {
		if err != nil {
			// A write that failed, for whatever reason, is PersistenceError on
			// SEND_ERROR, Pulsar's code for it; the codes clients act on otherwise
			// (TopicTerminatedError, quota) come from the table. pulsar-client-go
			// (v0.19.0, pulsar/internal/connection.go handleSendError) drops the
			// producer on NotAllowedError and TopicTerminatedError and reconnects and
			// resends on any other code.
			code := errcode.ServerError(err)
			if code == pulsar.ServerError_UnknownError || code == pulsar.ServerError_ServiceNotReady {
				code = pulsar.ServerError_PersistenceError
			}
			c.sendAnswer(wire.NewSendError(prodID, seq, code, err.Error()))
			return
		}
		c.sendAnswer(wire.NewSendReceipt(prodID, seq, pos.Ledger, pos.Entry))
	})
}

func (c *conn) handleCloseProducer(cmd *pulsar.CommandCloseProducer) {
	c.mu.Lock()
	h := c.producers[cmd.GetProducerId()]
	delete(c.producers, cmd.GetProducerId())
	c.mu.Unlock()
	if h != nil {
		h.topic.RemoveProducer(h.p)
	}
	c.send(wire.NewSuccess(cmd.GetRequestId()))
}
