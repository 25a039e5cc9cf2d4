package server

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

func TestProducer(t *testing.T) {
	e := newEnv(t)
	c := e.connect(t)
	const topic = "persistent://public/default/produce"

	c.send(producerCmd(topic, 1, 10))
	ps := c.expect(pulsar.BaseCommand_PRODUCER_SUCCESS).GetProducerSuccess()
	name := ps.GetProducerName()
	if ps.GetRequestId() != 10 || name == "" || ps.GetLastSequenceId() != -1 {
		t.Fatalf("PRODUCER_SUCCESS %v: want request 10, a generated name, last sequence -1", ps)
	}
	// A retried PRODUCER on the same connection gets the same producer.
	c.send(producerCmd(topic, 1, 11))
	if again := c.expect(pulsar.BaseCommand_PRODUCER_SUCCESS).GetProducerSuccess(); again.GetProducerName() != name || again.GetRequestId() != 11 {
		t.Fatalf("retried PRODUCER answered %v, want producer %q for request 11", again, name)
	}

	// SENDs pipelined without waiting: receipts come back in send order, at increasing
	// positions.
	for seq := range uint64(5) {
		c.sendPayload(wire.NewSend(1, seq, 1), entry(t, name, seq, "m"))
	}
	var last *pulsar.MessageIdData
	for seq := range uint64(5) {
		r := c.expect(pulsar.BaseCommand_SEND_RECEIPT).GetSendReceipt()
		if r.GetProducerId() != 1 || r.GetSequenceId() != seq {
			t.Fatalf("receipt %v, want producer 1 sequence %d", r, seq)
		}
		id := r.GetMessageId()
		if last != nil && !(id.GetLedgerId() > last.GetLedgerId() || id.GetLedgerId() == last.GetLedgerId() && id.GetEntryId() > last.GetEntryId()) {
			t.Fatalf("receipt at %d:%d after %d:%d", id.GetLedgerId(), id.GetEntryId(), last.GetLedgerId(), last.GetEntryId())
		}
		last = id
	}

	corrupt, err := wire.AppendPayloadFrame(nil, wire.NewSend(1, 5, 1), nil, entry(t, name, 5, "payload"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt[len(corrupt)-1] ^= 0xff // after the checksum was computed
	send := func(seq uint64) *pulsar.BaseCommand { return wire.NewSend(1, seq, 1) }

	// Each bad SEND gets a SEND_ERROR for its sequence id; the connection and the
	// producer go on.
	for _, tc := range []struct {
		name  string
		write func(c *client)
		prod  uint64
		seq   uint64
		code  pulsar.ServerError
	}{
		{"checksum mismatch", func(c *client) { c.sendRaw(corrupt) }, 1, 5, pulsar.ServerError_ChecksumError},
		{"no payload", func(c *client) { c.sendRaw(rawFrameOf(c.t, send(6), nil)) }, 1, 6, pulsar.ServerError_PersistenceError},
		{"malformed payload", func(c *client) { c.sendRaw(rawFrameOf(c.t, send(7), []byte{0, 0, 0, 99, 1})) }, 1, 7, pulsar.ServerError_PersistenceError},
		{"unknown producer", func(c *client) { c.sendPayload(wire.NewSend(9, 8, 1), entry(c.t, name, 8, "x")) }, 9, 8, pulsar.ServerError_NotAllowedError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := c.in(t)
			tc.write(c)
			se := c.expect(pulsar.BaseCommand_SEND_ERROR).GetSendError()
			if se.GetProducerId() != tc.prod || se.GetSequenceId() != tc.seq || se.GetError() != tc.code {
				t.Fatalf("SEND_ERROR %v, want producer %d sequence %d %s", se, tc.prod, tc.seq, tc.code)
			}
		})
	}
	c.sendPayload(send(9), entry(t, name, 9, "fine"))
	if r := c.expect(pulsar.BaseCommand_SEND_RECEIPT).GetSendReceipt(); r.GetSequenceId() != 9 {
		t.Fatalf("receipt for %d, want 9", r.GetSequenceId())
	}

	c.send(closeProducerCmd(1, 12))
	if s := c.expect(pulsar.BaseCommand_SUCCESS).GetSuccess(); s.GetRequestId() != 12 {
		t.Fatalf("SUCCESS for request %d, want 12", s.GetRequestId())
	}
	c.sendPayload(send(10), entry(t, name, 10, "closed"))
	if se := c.expect(pulsar.BaseCommand_SEND_ERROR).GetSendError(); se.GetError() != pulsar.ServerError_NotAllowedError {
		t.Fatalf("SEND after CLOSE_PRODUCER: %v, want NotAllowedError", se)
	}
	// The name is free again: a new producer may take it. (Without deduplication the
	// broker tracks no sequence ids: -1.)
	named := producerCmd(topic, 2, 13)
	named.Producer.ProducerName, named.Producer.UserProvidedProducerName = proto.String(name), proto.Bool(true)
	c.send(named)
	if ps := c.expect(pulsar.BaseCommand_PRODUCER_SUCCESS).GetProducerSuccess(); ps.GetProducerName() != name || ps.GetLastSequenceId() != -1 {
		t.Fatalf("PRODUCER_SUCCESS %v, want %q with last sequence -1", ps, name)
	}
}

// rawFrameOf is cmd's frame with rest as its headers-and-payload, unchecked.
func rawFrameOf(t *testing.T, cmd *pulsar.BaseCommand, rest []byte) []byte {
	t.Helper()
	b, err := proto.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return rawFrame(b, rest)
}

// TestWaitingProducerEndsWithItsConnection: a WaitForExclusive producer's handler waits
// on its connection's context; closing the server ends it (goleak checks nothing is
// left), and the exclusive producer's own connection is told it closed.
func TestWaitingProducerEndsWithItsConnection(t *testing.T) {
	e := newEnv(t)
	const topic = "persistent://public/default/exclusive"
	a, b := e.connect(t), e.connect(t)
	excl := producerCmd(topic, 1, 1)
	excl.Producer.ProducerAccessMode = pulsar.ProducerAccessMode_Exclusive.Enum()
	a.send(excl)
	a.expect(pulsar.BaseCommand_PRODUCER_SUCCESS)

	wait := producerCmd(topic, 1, 2)
	wait.Producer.ProducerAccessMode = pulsar.ProducerAccessMode_WaitForExclusive.Enum()
	b.send(wait)
	if ps := b.expect(pulsar.BaseCommand_PRODUCER_SUCCESS).GetProducerSuccess(); ps.ProducerReady == nil || ps.GetProducerReady() {
		t.Fatalf("WaitForExclusive answered %v, want producer_ready=false", ps)
	}
	// Until the exclusive producer leaves, the waiting one may not send.
	b.sendPayload(wire.NewSend(1, 0, 1), entry(t, "w", 0, "early"))
	if se := b.expect(pulsar.BaseCommand_SEND_ERROR).GetSendError(); se.GetError() != pulsar.ServerError_NotAllowedError {
		t.Fatalf("SEND while waiting: %v, want NotAllowedError", se)
	}

	// The exclusive producer closes: the waiting one gets its turn.
	a.send(closeProducerCmd(1, 3))
	a.expect(pulsar.BaseCommand_SUCCESS)
	if ps := b.expect(pulsar.BaseCommand_PRODUCER_SUCCESS).GetProducerSuccess(); ps.GetRequestId() != 2 || ps.ProducerReady != nil && !ps.GetProducerReady() {
		t.Fatalf("second PRODUCER_SUCCESS %v, want the ready producer for request 2", ps)
	}

	// A third connection waits in turn; closing the server must end its handler.
	c := e.connect(t)
	wait.Producer.RequestId = proto.Uint64(4)
	c.send(wait)
	c.expect(pulsar.BaseCommand_PRODUCER_SUCCESS)
	ctx := testCtx(t)
	e.srv.Close(ctx)
	if ctx.Err() != nil {
		t.Fatal("Server.Close waited for the failsafe: a handler outlived its connection")
	}
	c.expectClosed()
	b.expectClosed()
}

// TestBrokerClosesProducerAndConsumer: a topic unloaded by the broker tells each of its
// producers and consumers with CLOSE_PRODUCER / CLOSE_CONSUMER; the clients then
// recreate them.
func TestBrokerClosesProducerAndConsumer(t *testing.T) {
	e := newEnv(t)
	const name = "persistent://public/default/unloaded"
	p, c := e.connect(t), e.connect(t)
	produce(p, name, 3, "before")
	c.send(subscribeCmd(name, "s", pulsar.CommandSubscribe_Shared, 4, 1))
	c.expect(pulsar.BaseCommand_SUCCESS)

	tn, err := topic.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Unload(testCtx(t), tn); err != nil {
		t.Fatalf("unload: %v", err)
	}
	if cp := p.expect(pulsar.BaseCommand_CLOSE_PRODUCER).GetCloseProducer(); cp.GetProducerId() != 3 {
		t.Fatalf("CLOSE_PRODUCER for producer %d, want 3", cp.GetProducerId())
	}
	if cc := c.expect(pulsar.BaseCommand_CLOSE_CONSUMER).GetCloseConsumer(); cc.GetConsumerId() != 4 {
		t.Fatalf("CLOSE_CONSUMER for consumer %d, want 4", cc.GetConsumerId())
	}

	// Both come back on their connections, with the same ids, and the message flows.
	produce(p, name, 3, "after")
	c.send(subscribeCmd(name, "s", pulsar.CommandSubscribe_Shared, 4, 2))
	c.expect(pulsar.BaseCommand_SUCCESS)
	c.send(flowCmd(4, 10))
	if _, got := receive(c, 4, 2); got[0] != "before" || got[1] != "after" {
		t.Fatalf("received %q, want [before after]", got)
	}
}
