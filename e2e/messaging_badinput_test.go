package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/broker/wire"
	pb "github.com/strata-io/strata/proto/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// rawConn is a bare TCP connection to the broker, speaking frames by hand.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *wire.Reader
}

// dialRaw connects a rawConn to the broker, closed at test cleanup.
func dialRaw(t *testing.T, pulsarURL string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", strings.TrimPrefix(pulsarURL, "pulsar://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	// Frames from the broker are at most 5 MiB + padding; allow more so that our reader
	// never is the one to give up.
	return &rawConn{t: t, nc: nc, r: wire.NewReader(nc, 64<<20)}
}

// write sends bytes; a write error (the broker hung up early) is not a failure here,
// the caller checks what the broker did.
func (rc *rawConn) write(b []byte) {
	rc.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	rc.nc.Write(b)
}

func (rc *rawConn) writeCmd(cmd *pb.BaseCommand) {
	rc.t.Helper()
	b, err := wire.AppendFrame(nil, cmd)
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.write(b)
}

// handshake sends CONNECT and expects CONNECTED.
func (rc *rawConn) handshake() {
	rc.t.Helper()
	rc.writeCmd(wire.NewConnect("Pulsar-Go-raw-test", 20))
	f := rc.next()
	if f == nil || f.Command.GetType() != pb.BaseCommand_CONNECTED {
		rc.t.Fatalf("handshake: got %v, want CONNECTED", f)
	}
}

// next reads one frame within 10 s; nil when the broker closed the connection.
func (rc *rawConn) next() *wire.Frame {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := rc.r.ReadFrame()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			rc.t.Fatalf("the broker neither answered nor closed the connection within 10s")
		}
		return nil // EOF, reset, truncated: the broker closed it
	}
	return &f
}

// expectClosed reads until the broker closes the connection, failing if it answers
// anything but an error first.
func (rc *rawConn) expectClosed(what string) {
	rc.t.Helper()
	for {
		f := rc.next()
		if f == nil {
			return
		}
		if typ := f.Command.GetType(); typ != pb.BaseCommand_ERROR {
			rc.t.Fatalf("%s: broker answered %s instead of closing the connection", what, typ)
		}
	}
}

// expectErrorOrClosed accepts an error frame of one of the types, or the connection
// closing; it returns the error frame (nil when closed).
func (rc *rawConn) expectErrorOrClosed(what string, types ...pb.BaseCommand_Type) *wire.Frame {
	rc.t.Helper()
	f := rc.next()
	if f == nil {
		return nil
	}
	for _, typ := range types {
		if f.Command.GetType() == typ {
			return f
		}
	}
	rc.t.Fatalf("%s: broker answered %s; want one of %v or a closed connection", what, f.Command.GetType(), types)
	return nil
}

// ping checks the connection still works: PING gets PONG.
func (rc *rawConn) ping(what string) {
	rc.t.Helper()
	rc.writeCmd(wire.NewPing())
	if f := rc.next(); f == nil || f.Command.GetType() != pb.BaseCommand_PONG {
		rc.t.Fatalf("%s: PING after it got %v, want PONG", what, f)
	}
}

// rawFrame builds [total][cmdSize][cmd bytes][rest] from raw command bytes.
func rawFrame(cmd []byte, rest []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(cmd)+len(rest)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(cmd)))
	b = append(b, cmd...)
	return append(b, rest...)
}

// rawEntry is [metadataSize][MessageMetadata][payload]; AppendPayloadFrame adds the
// checksum section.
func rawEntry(t *testing.T, payload []byte) []byte {
	md := &pb.MessageMetadata{ProducerName: proto.String("raw"), SequenceId: proto.Uint64(0),
		PublishTime: proto.Uint64(uint64(time.Now().UnixMilli()))}
	mb, err := proto.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(mb)))
	return append(append(b, mb...), payload...)
}

func rawSend(t *testing.T, producerID, seq uint64, payload []byte) []byte {
	b, err := wire.AppendPayloadFrame(nil, wire.NewSend(producerID, seq, 1), nil, rawEntry(t, payload))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMessagingBadInput: garbage, oversized frames, frames out of order (before CONNECT,
// SEND before PRODUCER), undecodable and unknown commands, a corrupted checksum and a
// client hanging up mid-frame each end in an error for that request or in the broker
// closing that one connection; the broker stays up, and a normal client produces and
// consumes afterwards.
func TestMessagingBadInput(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	url := s.PulsarURL

	t.Run("http-request", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		rc.expectClosed("an HTTP request")
	})
	t.Run("random-garbage", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.write(randomBytes(t, 4096))
		rc.expectClosed("random bytes")
	})
	t.Run("command-before-connect", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.writeCmd(wire.NewPing())
		rc.expectClosed("PING before CONNECT")
	})
	t.Run("frame-over-size-limit-header", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		// Only the header: the broker must refuse on the size alone, without waiting
		// for (or allocating) 2 GiB.
		rc.write(binary.BigEndian.AppendUint32(nil, 0x7fff_fff0))
		rc.expectClosed("a 2 GiB frame header")
	})
	t.Run("frame-over-size-limit-real", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		rc.writeCmd(&pb.BaseCommand{Type: pb.BaseCommand_PRODUCER.Enum(), Producer: &pb.CommandProducer{
			Topic: proto.String("persistent://public/default/raw-big"), ProducerId: proto.Uint64(1), RequestId: proto.Uint64(1)}})
		if f := rc.next(); f == nil || f.Command.GetType() != pb.BaseCommand_PRODUCER_SUCCESS {
			t.Fatalf("PRODUCER: got %v", f)
		}
		// A SEND whose frame is one byte over max_message_size + 10 KiB.
		over := rawSend(t, 1, 0, make([]byte, wire.DefaultMaxFrameSize))
		rc.write(over)
		rc.expectClosed("a SEND over the frame limit")
	})
	t.Run("command-size-past-frame", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		b := binary.BigEndian.AppendUint32(nil, 8)
		b = binary.BigEndian.AppendUint32(b, 1000) // cmdSize > totalSize-4
		rc.write(append(b, 0, 0, 0, 0))
		rc.expectClosed("commandSize larger than the frame")
	})
	t.Run("undecodable-command", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		rc.write(rawFrame([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x01}, nil))
		rc.expectClosed("undecodable protobuf")
	})
	t.Run("unknown-command-type", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		cmd, err := proto.Marshal(&pb.BaseCommand{Type: pb.BaseCommand_Type(999).Enum()})
		if err != nil {
			t.Fatal(err)
		}
		rc.write(rawFrame(cmd, nil))
		rc.expectClosed("command type 999")
	})
	t.Run("missing-command-body", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		rc.write(rawFrame(mustMarshal(t, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER.Enum()}), nil))
		rc.expectClosed("PRODUCER without its body")
	})
	t.Run("server-command-from-client", func(t *testing.T) {
		// A known command the broker never accepts from a client, with a request id:
		// an ERROR for that request, or a close.
		rc := dialRaw(t, url)
		rc.handshake()
		rc.writeCmd(wire.NewPartitionedMetadataResponse(77, 3))
		if f := rc.expectErrorOrClosed("PARTITIONED_METADATA_RESPONSE from a client", pb.BaseCommand_ERROR); f != nil {
			if f.Command.GetError().GetRequestId() != 77 {
				t.Fatalf("ERROR for request %d, want 77", f.Command.GetError().GetRequestId())
			}
			rc.ping("after the refused command")
		}
	})
	t.Run("send-before-producer", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		rc.write(rawSend(t, 42, 7, []byte("orphan")))
		if f := rc.expectErrorOrClosed("SEND before PRODUCER", pb.BaseCommand_SEND_ERROR); f != nil {
			se := f.Command.GetSendError()
			if se.GetProducerId() != 42 || se.GetSequenceId() != 7 {
				t.Fatalf("SEND_ERROR for producer %d seq %d", se.GetProducerId(), se.GetSequenceId())
			}
			rc.ping("after the refused SEND")
		}
	})
	t.Run("send-without-payload", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		rc.write(rawFrame(mustMarshal(t, wire.NewSend(1, 1, 1)), nil))
		rc.expectErrorOrClosed("SEND without a payload", pb.BaseCommand_SEND_ERROR)
	})
	t.Run("bad-checksum", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		rc.writeCmd(&pb.BaseCommand{Type: pb.BaseCommand_PRODUCER.Enum(), Producer: &pb.CommandProducer{
			Topic: proto.String("persistent://public/default/raw-crc"), ProducerId: proto.Uint64(1), RequestId: proto.Uint64(1)}})
		if f := rc.next(); f == nil || f.Command.GetType() != pb.BaseCommand_PRODUCER_SUCCESS {
			t.Fatalf("PRODUCER: got %v", f)
		}
		frame := rawSend(t, 1, 0, []byte("payload"))
		frame[len(frame)-1] ^= 0xff // corrupt the payload under the checksum
		rc.write(frame)
		f := rc.expectErrorOrClosed("a corrupted SEND", pb.BaseCommand_SEND_ERROR)
		if f != nil && f.Command.GetSendError().GetError() != pb.ServerError_ChecksumError {
			t.Fatalf("SEND_ERROR %v, want ChecksumError", f.Command.GetSendError().GetError())
		}
	})
	t.Run("hang-up-mid-frame", func(t *testing.T) {
		rc := dialRaw(t, url)
		rc.handshake()
		full := rawSend(t, 1, 0, bytes.Repeat([]byte("x"), 1000))
		rc.write(full[:len(full)/2])
		rc.nc.Close()
	})
	t.Run("many-connections-at-once", func(t *testing.T) {
		for i := 0; i < 50; i++ {
			rc := dialRaw(t, url)
			rc.write([]byte{0, 0, 0})
			rc.nc.Close()
		}
	})

	t.Run("client-that-stops-reading", func(t *testing.T) {
		// A connection that produces and consumes but never reads what the broker sends:
		// its socket and queue fill with MESSAGE frames. The receipt for its SEND must not
		// hold up the topic's other producers (their receipts come from the same
		// managed-ledger callback goroutine).
		c := newClient(t, url)
		ctx := testCtx(t)
		flooded, shared := uniqueTopic(t), uniqueTopic(t)
		fp := newProducer(t, c, pulsar.ProducerOptions{Topic: flooded, DisableBatching: true})
		body := bytes.Repeat([]byte("f"), 4<<10)
		errs := make(chan error, 3000)
		for i := 0; i < 3000; i++ {
			fp.SendAsync(ctx, &pulsar.ProducerMessage{Payload: body}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { errs <- err })
		}
		for i := 0; i < 3000; i++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}

		rc := dialRaw(t, url)
		rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
		rc.handshake()
		rc.writeCmd(&pb.BaseCommand{Type: pb.BaseCommand_PRODUCER.Enum(), Producer: &pb.CommandProducer{
			Topic: proto.String(shared), ProducerId: proto.Uint64(1), RequestId: proto.Uint64(1)}})
		if f := rc.next(); f == nil || f.Command.GetType() != pb.BaseCommand_PRODUCER_SUCCESS {
			t.Fatalf("PRODUCER: got %v", f)
		}
		rc.writeCmd(&pb.BaseCommand{Type: pb.BaseCommand_SUBSCRIBE.Enum(), Subscribe: &pb.CommandSubscribe{
			Topic: proto.String(flooded), Subscription: proto.String("stuck"), SubType: pb.CommandSubscribe_Exclusive.Enum(),
			ConsumerId: proto.Uint64(1), RequestId: proto.Uint64(2), InitialPosition: pb.CommandSubscribe_Earliest.Enum()}})
		if f := rc.next(); f == nil || f.Command.GetType() != pb.BaseCommand_SUCCESS {
			t.Fatalf("SUBSCRIBE: got %v", f)
		}
		rc.writeCmd(&pb.BaseCommand{Type: pb.BaseCommand_FLOW.Enum(), Flow: &pb.CommandFlow{
			ConsumerId: proto.Uint64(1), MessagePermits: proto.Uint32(1 << 30)}})
		// From here on the raw connection reads nothing. The broker pushes 12 MiB of
		// MESSAGE frames at it, more than its socket and queue hold (well under a second
		// on loopback); meanwhile both connections keep sending to the shared topic, for
		// three seconds: with the stuck connection's receipts waiting in line, each of the
		// normal producer's sends must still complete.
		sp := newProducer(t, c, pulsar.ProducerOptions{Topic: shared, DisableBatching: true})
		start := time.Now()
		for i := 0; time.Since(start) < 3*time.Second || i < 20; i++ {
			rc.write(rawSend(t, 1, uint64(i), []byte("stuck")))
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := sp.Send(sctx, &pulsar.ProducerMessage{Payload: []byte("free")})
			cancel()
			if err != nil {
				t.Fatalf("send %d on a topic shared with a connection that stopped reading: %v", i, err)
			}
		}
	})

	t.Run("stuck-consumer-does-not-stall-its-shared-subscription", func(t *testing.T) {
		// A consumer of a Shared subscription that grants permits and then reads
		// nothing: its share of the messages piles up for it, but the subscription keeps
		// dispatching to the other consumer (Pulsar skips a consumer whose connection is
		// not writable).
		c := newClient(t, url)
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		normal := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", Type: pulsar.Shared})

		rc := dialRaw(t, url)
		rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
		rc.handshake()
		rc.writeCmd(&pb.BaseCommand{Type: pb.BaseCommand_SUBSCRIBE.Enum(), Subscribe: &pb.CommandSubscribe{
			Topic: proto.String(topic), Subscription: proto.String("s"), SubType: pb.CommandSubscribe_Shared.Enum(),
			ConsumerId: proto.Uint64(1), RequestId: proto.Uint64(1)}})
		if f := rc.next(); f == nil || f.Command.GetType() != pb.BaseCommand_SUCCESS {
			t.Fatalf("SUBSCRIBE: got %v", f)
		}
		rc.writeCmd(&pb.BaseCommand{Type: pb.BaseCommand_FLOW.Enum(), Flow: &pb.CommandFlow{
			ConsumerId: proto.Uint64(1), MessagePermits: proto.Uint32(1 << 30)}})

		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		body := bytes.Repeat([]byte("s"), 8<<10)
		const flood = 4000
		errs := make(chan error, flood)
		for i := 0; i < flood; i++ {
			prod.SendAsync(ctx, &pulsar.ProducerMessage{Payload: body}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { errs <- err })
		}
		received := 0
		for i := 0; i < flood; i++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		// Sent after the flood, when the stuck connection is full: some of these must
		// reach the consumer that reads.
		for i := 0; i < 200; i++ {
			prod.SendAsync(ctx, &pulsar.ProducerMessage{Payload: []byte("late")}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { errs <- err })
		}
		for {
			m := receive(t, ctx, normal)
			normal.Ack(m)
			received++
			if string(m.Payload()) == "late" {
				break
			}
		}
		t.Logf("the reading consumer got %d messages, the stuck one holds the rest", received)
	})

	// The broker is still up and serves a normal client.
	t.Run("normal-client-still-works", func(t *testing.T) {
		c := newClient(t, url)
		ctx := testCtx(t)
		topic := uniqueTopic(t)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s"})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic})
		payloads := numbered("ok", 0, 20)
		send(t, ctx, prod, payloads...)
		expectPayloads(t, ctx, cons, payloads)
		// The topics the raw connections wrote to work too.
		rc := dialRaw(t, url)
		rc.handshake()
		rc.ping("a fresh raw connection")
	})
	if code := s.ExitCode(); code != -1 {
		t.Fatalf("standalone exited with %d", code)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
