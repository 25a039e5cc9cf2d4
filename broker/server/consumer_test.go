package server

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

// receive reads n MESSAGE frames for consumer consID (skipping Failover's
// ACTIVE_CONSUMER_CHANGE) and returns their ids and payloads.
func receive(c *client, consID uint64, n int) ([]*pulsar.MessageIdData, []string) {
	c.t.Helper()
	var ids []*pulsar.MessageIdData
	var data []string
	for len(ids) < n {
		f := c.next()
		switch f.Command.GetType() {
		case pulsar.BaseCommand_ACTIVE_CONSUMER_CHANGE:
			continue
		case pulsar.BaseCommand_MESSAGE:
		default:
			c.t.Fatalf("got %s, want MESSAGE", f.Command.GetType())
		}
		m := f.Command.GetMessage()
		if m.GetConsumerId() != consID {
			c.t.Fatalf("MESSAGE for consumer %d, want %d", m.GetConsumerId(), consID)
		}
		if f.PayloadErr != nil || !f.Payload.HasChecksum {
			c.t.Fatalf("MESSAGE payload: %v (checksum present: %v)", f.PayloadErr, f.Payload.HasChecksum)
		}
		ids = append(ids, m.GetMessageId())
		data = append(data, string(f.Payload.Data))
	}
	return ids, data
}

func TestConsumer(t *testing.T) {
	e := newEnv(t)
	for _, typ := range []pulsar.CommandSubscribe_SubType{
		pulsar.CommandSubscribe_Exclusive, pulsar.CommandSubscribe_Shared,
		pulsar.CommandSubscribe_Failover, pulsar.CommandSubscribe_Key_Shared,
	} {
		t.Run(typ.String(), func(t *testing.T) {
			topic := "persistent://public/default/consume-" + typ.String()
			payloads := make([]string, 5)
			for i := range payloads {
				payloads[i] = fmt.Sprintf("%s-%d", typ, i)
			}
			produce(e.connect(t), topic, 1, payloads...)

			c := e.connect(t)
			c.send(subscribeCmd(topic, "sub", typ, 7, 1))
			c.expect(pulsar.BaseCommand_SUCCESS)
			// A retried SUBSCRIBE for the same consumer id is already done.
			c.send(subscribeCmd(topic, "sub", typ, 7, 2))
			if s := c.expect(pulsar.BaseCommand_SUCCESS).GetSuccess(); s.GetRequestId() != 2 {
				t.Fatalf("SUCCESS for request %d, want 2", s.GetRequestId())
			}

			// Permits bound delivery: 3, then the other 2.
			c.send(flowCmd(7, 3))
			ids, got := receive(c, 7, 3)
			c.send(flowCmd(7, 10))
			moreIDs, more := receive(c, 7, 2)
			ids, got = append(ids, moreIDs...), append(got, more...)
			if fmt.Sprint(got) != fmt.Sprint(payloads) {
				t.Fatalf("received %q, want %q", got, payloads)
			}

			// Acknowledge the first two, with a request id: ACK_RESPONSE.
			c.send(ackCmd(7, 3, ids[0], ids[1]))
			if r := c.expect(pulsar.BaseCommand_ACK_RESPONSE).GetAckResponse(); r.GetRequestId() != 3 || r.Error != nil {
				t.Fatalf("ACK_RESPONSE %v, want success for request 3", r)
			}
			c.send(closeConsumerCmd(7, 4))
			if s := c.expect(pulsar.BaseCommand_SUCCESS).GetSuccess(); s.GetRequestId() != 4 {
				t.Fatalf("SUCCESS for request %d, want 4", s.GetRequestId())
			}

			// A new consumer of the subscription gets the unacknowledged rest.
			c.send(subscribeCmd(topic, "sub", typ, 8, 5))
			c.expect(pulsar.BaseCommand_SUCCESS)
			c.send(flowCmd(8, 10))
			if _, rest := receive(c, 8, 3); fmt.Sprint(rest) != fmt.Sprint(payloads[2:]) {
				t.Fatalf("after acking two, received %q, want %q", rest, payloads[2:])
			}
		})
	}
}

// TestConsumerCommandsForUnknownIDs: commands for a consumer id the connection does not
// have get ConsumerNotFound, or are ignored where Pulsar ignores them.
func TestConsumerCommandsForUnknownIDs(t *testing.T) {
	e := newEnv(t)
	c := e.connect(t)
	for _, tc := range []struct {
		name string
		cmd  *pulsar.BaseCommand
		want pulsar.BaseCommand_Type
		code pulsar.ServerError
	}{
		{"UNSUBSCRIBE", &pulsar.BaseCommand{Type: pulsar.BaseCommand_UNSUBSCRIBE.Enum(), Unsubscribe: &pulsar.CommandUnsubscribe{
			ConsumerId: proto.Uint64(99), RequestId: proto.Uint64(1)}}, pulsar.BaseCommand_ERROR, pulsar.ServerError_ConsumerNotFound},
		{"SEEK", &pulsar.BaseCommand{Type: pulsar.BaseCommand_SEEK.Enum(), Seek: &pulsar.CommandSeek{
			ConsumerId: proto.Uint64(99), RequestId: proto.Uint64(1)}}, pulsar.BaseCommand_ERROR, pulsar.ServerError_ConsumerNotFound},
		{"GET_LAST_MESSAGE_ID", &pulsar.BaseCommand{Type: pulsar.BaseCommand_GET_LAST_MESSAGE_ID.Enum(), GetLastMessageId: &pulsar.CommandGetLastMessageId{
			ConsumerId: proto.Uint64(99), RequestId: proto.Uint64(1)}}, pulsar.BaseCommand_ERROR, pulsar.ServerError_ConsumerNotFound},
		{"ACK", ackCmd(99, 1, wire.MessageID(1, 1)), pulsar.BaseCommand_ACK_RESPONSE, 0},
		{"CLOSE_CONSUMER", closeConsumerCmd(99, 1), pulsar.BaseCommand_SUCCESS, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := c.in(t)
			c.send(tc.cmd)
			got := c.expect(tc.want)
			if tc.code != 0 && got.GetError().GetError() != tc.code {
				t.Fatalf("ERROR %v, want %s", got.GetError(), tc.code)
			}
			// FLOW for an unknown consumer is ignored: the next answer is the PONG.
			c.send(flowCmd(99, 10))
			c.send(wire.NewPing())
			c.expect(pulsar.BaseCommand_PONG)
		})
	}
}
