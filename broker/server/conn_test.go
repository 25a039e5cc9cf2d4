package server

import (
	"encoding/binary"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

// frameBytes encodes cmd as a simple frame without the codec's checks.
func frameBytes(t *testing.T, cmd *pulsar.BaseCommand) []byte {
	t.Helper()
	b, err := proto.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return rawFrame(b, nil)
}

// rawFrame is [totalSize][commandSize][command][rest].
func rawFrame(cmd, rest []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(cmd)+len(rest)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(cmd)))
	return append(append(b, cmd...), rest...)
}

func TestHandshake(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name    string
		first   func(t *testing.T) []byte
		version int32 // CONNECTED's protocol version; 0: no CONNECTED
		code    pulsar.ServerError
	}{
		{"current client", connectBytes(21), 21, 0},
		{"older client gets its version", connectBytes(10), 10, 0},
		{"newer client gets ours", connectBytes(25), maxProtocolVersion, 0},
		{"oldest supported", connectBytes(minProtocolVersion), minProtocolVersion, 0},
		{"too old", connectBytes(minProtocolVersion - 1), 0, pulsar.ServerError_UnsupportedVersionError},
		{"PING before CONNECT", func(t *testing.T) []byte { return frameBytes(t, wire.NewPing()) }, 0, 0},
		{"garbage", func(*testing.T) []byte { return []byte{0, 0, 0, 6, 0, 0, 0, 2, 0xff, 0xff} }, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(t)
			c.sendRaw(tc.first(t))
			switch {
			case tc.version != 0:
				cc := c.expect(pulsar.BaseCommand_CONNECTED).GetConnected()
				if cc.GetProtocolVersion() != tc.version {
					t.Errorf("CONNECTED protocol version %d, want %d", cc.GetProtocolVersion(), tc.version)
				}
				if cc.GetServerVersion() != "Strata" || cc.GetMaxMessageSize() != wire.DefaultMaxMessageSize {
					t.Errorf("CONNECTED announces %q, max message size %d", cc.GetServerVersion(), cc.GetMaxMessageSize())
				}
				c.send(wire.NewPing())
				c.expect(pulsar.BaseCommand_PONG)
			case tc.code != 0:
				c.expectError(0, tc.code)
				c.expectClosed()
			default:
				c.expectClosed()
			}
		})
	}
}

func connectBytes(v int32) func(t *testing.T) []byte {
	return func(t *testing.T) []byte { return frameBytes(t, wire.NewConnect("test-client", v)) }
}

// TestBadFrames: a frame the codec cannot take ends that connection only; a request the
// broker does not serve gets an ERROR. Other connections, and their producers, go on.
func TestBadFrames(t *testing.T) {
	e := newEnv(t)
	bystander := e.connect(t)
	produce(bystander, "bystander", 1, "before")

	ping, err := proto.Marshal(wire.NewPing())
	if err != nil {
		t.Fatal(err)
	}
	noBody, err := proto.Marshal(&pulsar.BaseCommand{Type: pulsar.BaseCommand_PRODUCER.Enum()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		frame func(t *testing.T) []byte
		// answer is the request id of the ERROR NotAllowedError expected; 0: the
		// connection must close.
		answer uint64
	}{
		{"frame larger than the limit", func(*testing.T) []byte { return []byte{0x7f, 0xff, 0xff, 0xff} }, 0},
		{"frame smaller than its header", func(*testing.T) []byte { return []byte{0, 0, 0, 2} }, 0},
		{"command size beyond the frame", func(*testing.T) []byte { return []byte{0, 0, 0, 8, 0, 0, 0, 100, 1, 2, 3, 4} }, 0},
		{"command not protobuf", func(*testing.T) []byte { return rawFrame([]byte{0xff, 0xff, 0xff}, nil) }, 0},
		{"command without its body", func(*testing.T) []byte { return rawFrame(noBody, nil) }, 0},
		{"payload after PING", func(*testing.T) []byte { return rawFrame(ping, []byte{1, 2, 3}) }, 0},
		{"CONNECT again", connectBytes(21), 0},
		{"a command only the broker sends", func(t *testing.T) []byte { return frameBytes(t, wire.NewSuccess(77)) }, 77},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.connect(t)
			c.sendRaw(tc.frame(t))
			if tc.answer == 0 {
				c.expectClosed()
			} else {
				c.expectError(tc.answer, pulsar.ServerError_NotAllowedError)
				c.send(wire.NewPing())
				c.expect(pulsar.BaseCommand_PONG)
			}
			b := bystander.in(t)
			b.send(wire.NewPing())
			b.expect(pulsar.BaseCommand_PONG)
		})
	}
	// The bystander's producer still publishes.
	bystander.sendPayload(wire.NewSend(1, 1, 1), entry(t, "", 1, "after"))
	if r := bystander.expect(pulsar.BaseCommand_SEND_RECEIPT).GetSendReceipt(); r.GetSequenceId() != 1 {
		t.Errorf("receipt for sequence %d, want 1", r.GetSequenceId())
	}
}

func TestPingPong(t *testing.T) {
	e := newEnv(t)
	c := e.connect(t)
	for range 3 {
		c.send(wire.NewPing())
		c.expect(pulsar.BaseCommand_PONG)
	}
	// A PONG from the client (an answer to the broker's PING) needs no answer: the next
	// frame is the PONG for the PING after it.
	c.send(wire.NewPong())
	c.send(wire.NewPing())
	c.expect(pulsar.BaseCommand_PONG)
}
