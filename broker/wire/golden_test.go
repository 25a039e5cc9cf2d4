package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/proto/pulsar"
)

// readHex loads an annotated hex file from testdata: hex bytes, '#' comments to the end
// of a line, whitespace ignored.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for line := range strings.Lines(string(raw)) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// readOne decodes exactly one frame from b and fails unless it is all of b.
func readOne(t *testing.T, b []byte) Frame {
	t.Helper()
	r := NewReader(bytes.NewReader(b), 0)
	f, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("ReadFrame: %v", err)
	}
	if _, err := r.ReadFrame(); err == nil {
		t.Fatalf("more than one frame in the golden file")
	}
	return f
}

// reencode encodes f again the way the broker would send or forward it.
func reencode(t *testing.T, f Frame) []byte {
	t.Helper()
	var out []byte
	var err error
	if CarriesPayload(f.Command.GetType()) {
		out, err = AppendPayloadFrame(nil, f.Command, f.Payload.BrokerEntryMetadata, f.Payload.Entry)
	} else {
		out, err = AppendFrame(nil, f.Command)
	}
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	return out
}

// TestGoldenFrames decodes each annotated frame, checks what it says, and re-encodes it
// byte for byte. Frames the broker sends must also come out of their constructor
// exactly.
func TestGoldenFrames(t *testing.T) {
	sendEntry := func(t *testing.T) []byte {
		f := readOne(t, readHex(t, "send.hex"))
		return f.Payload.Entry
	}
	batchEntry := func(t *testing.T) []byte {
		f := readOne(t, readHex(t, "send_batch.hex"))
		return f.Payload.Entry
	}
	tests := []struct {
		file  string
		check func(t *testing.T, f Frame)
		// build, for broker frames, encodes the frame from our constructors.
		build func(t *testing.T) ([]byte, error)
	}{
		{
			file: "connect.hex",
			check: func(t *testing.T, f Frame) {
				c := f.Command.GetConnect()
				if c.GetClientVersion() != "Pulsar-Go-version-unknown" || c.GetProtocolVersion() != 20 ||
					c.AuthMethodName == nil || c.GetAuthMethodName() != "" ||
					!c.GetFeatureFlags().GetSupportsBrokerEntryMetadata() || !c.GetFeatureFlags().GetSupportsAuthRefresh() {
					t.Errorf("connect = %v", c)
				}
			},
		},
		{
			file:  "ping.hex",
			check: func(t *testing.T, f Frame) { want(t, f, pulsar.BaseCommand_PING) },
			build: func(t *testing.T) ([]byte, error) { return AppendFrame(nil, NewPing()) },
		},
		{
			file: "send.hex",
			check: func(t *testing.T, f Frame) {
				s := f.Command.GetSend()
				if s.GetProducerId() != 1 || s.GetSequenceId() != 0 || s.NumMessages != nil {
					t.Errorf("send = %v", s)
				}
				p := f.Payload
				if !p.HasChecksum || p.Checksum != 0x02c28a1c {
					t.Errorf("checksum = %v %#x", p.HasChecksum, p.Checksum)
				}
				md := p.Metadata
				if md.GetProducerName() != "standalone-0-1" || md.GetPublishTime() != 1700000000000 ||
					md.GetUncompressedSize() != 5 || md.NumMessagesInBatch != nil {
					t.Errorf("metadata = %v", md)
				}
				if string(p.Data) != "hello" {
					t.Errorf("data = %q", p.Data)
				}
				if !bytes.Equal(p.Entry, f.HeadersAndPayload) {
					t.Errorf("entry of a SEND is not all of its headers and payload")
				}
			},
		},
		{
			file: "send_batch.hex",
			check: func(t *testing.T, f Frame) {
				if n := f.Command.GetSend().GetNumMessages(); n != 1 {
					t.Errorf("num_messages = %d", n)
				}
				md := f.Payload.Metadata
				if md.NumMessagesInBatch == nil || md.GetNumMessagesInBatch() != 1 ||
					md.GetPartitionKey() != "key-1" || len(md.GetProperties()) != 1 {
					t.Errorf("metadata = %v", md)
				}
				checkBatchOfOne(t, f.Payload.Data)
			},
		},
		{
			file: "connected.hex",
			check: func(t *testing.T, f Frame) {
				c := f.Command.GetConnected()
				if c.GetServerVersion() != "Strata" || c.GetMaxMessageSize() != DefaultMaxMessageSize {
					t.Errorf("connected = %v", c)
				}
			},
			build: func(t *testing.T) ([]byte, error) {
				return AppendFrame(nil, NewConnected("Strata", int32(pulsar.ProtocolVersion_v20), DefaultMaxMessageSize))
			},
		},
		{
			file: "send_receipt.hex",
			check: func(t *testing.T, f Frame) {
				r := f.Command.GetSendReceipt()
				if r.GetMessageId().GetLedgerId() != 12 || r.GetMessageId().GetEntryId() != 0 {
					t.Errorf("receipt = %v", r)
				}
			},
			build: func(t *testing.T) ([]byte, error) { return AppendFrame(nil, NewSendReceipt(1, 0, 12, 0)) },
		},
		{
			file: "send_error_checksum.hex",
			check: func(t *testing.T, f Frame) {
				if e := f.Command.GetSendError(); e.GetError() != pulsar.ServerError_ChecksumError {
					t.Errorf("send_error = %v", e)
				}
			},
			build: func(t *testing.T) ([]byte, error) {
				return AppendFrame(nil, NewSendError(1, 0, pulsar.ServerError_ChecksumError, "checksum mismatch"))
			},
		},
		{
			file: "message.hex",
			check: func(t *testing.T, f Frame) {
				m := f.Command.GetMessage()
				if m.GetConsumerId() != 1 || m.GetMessageId().GetLedgerId() != 12 || m.RedeliveryCount == nil {
					t.Errorf("message = %v", m)
				}
				if !bytes.Equal(f.Payload.Entry, sendEntry(t)) {
					t.Errorf("MESSAGE does not carry the SEND's bytes unchanged")
				}
			},
			build: func(t *testing.T) ([]byte, error) {
				return AppendPayloadFrame(nil, NewMessage(1, 12, 0, 0, nil), nil, sendEntry(t))
			},
		},
		{
			file: "message_broker_entry_metadata.hex",
			check: func(t *testing.T, f Frame) {
				m := f.Command.GetMessage()
				if m.GetRedeliveryCount() != 2 || len(m.GetAckSet()) != 1 || m.GetAckSet()[0] != 1 {
					t.Errorf("message = %v", m)
				}
				bem := f.Payload.BrokerEntryMetadata
				if bem.GetBrokerTimestamp() != 1700000000123 || bem.GetIndex() != 41 {
					t.Errorf("broker entry metadata = %v", bem)
				}
				if !bytes.Equal(f.Payload.Entry, batchEntry(t)) {
					t.Errorf("MESSAGE does not carry the SEND's bytes unchanged")
				}
				checkBatchOfOne(t, f.Payload.Data)
			},
			build: func(t *testing.T) ([]byte, error) {
				bem := &pulsar.BrokerEntryMetadata{
					BrokerTimestamp: proto.Uint64(1700000000123),
					Index:           proto.Uint64(41),
				}
				return AppendPayloadFrame(nil, NewMessage(1, 12, 1, 2, []int64{1}), bem, batchEntry(t))
			},
		},
		{
			file: "get_last_message_id_response_empty.hex",
			check: func(t *testing.T, f Frame) {
				id := f.Command.GetGetLastMessageIdResponse().GetLastMessageId()
				if int64(id.GetLedgerId()) != -1 || int64(id.GetEntryId()) != -1 {
					t.Errorf("last message id = %v", id)
				}
			},
			build: func(t *testing.T) ([]byte, error) {
				return AppendFrame(nil, NewGetLastMessageIDResponse(3, nil, nil))
			},
		},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".hex"), func(t *testing.T) {
			golden := readHex(t, tt.file)
			f := readOne(t, golden)
			if f.PayloadErr != nil {
				t.Fatalf("PayloadErr = %v", f.PayloadErr)
			}
			tt.check(t, f)
			if got := reencode(t, f); !bytes.Equal(got, golden) {
				t.Errorf("re-encoded frame differs\n got %x\nwant %x", got, golden)
			}
			if tt.build != nil {
				got, err := tt.build(t)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, golden) {
					t.Errorf("constructed frame differs\n got %x\nwant %x", got, golden)
				}
			}
		})
	}
}

// checkBatchOfOne parses data as the batch in send_batch.hex: one message, "hello".
func checkBatchOfOne(t *testing.T, data []byte) {
	t.Helper()
	if len(data) < 4 {
		t.Fatalf("batch too short: %x", data)
	}
	n := int(data[0])<<24 | int(data[1])<<16 | int(data[2])<<8 | int(data[3])
	if 4+n > len(data) {
		t.Fatalf("single message metadata size %d exceeds batch", n)
	}
	var smm pulsar.SingleMessageMetadata
	if err := proto.Unmarshal(data[4:4+n], &smm); err != nil {
		t.Fatal(err)
	}
	if smm.GetPayloadSize() != 5 || smm.GetSequenceId() != 7 || string(data[4+n:]) != "hello" {
		t.Errorf("batch entry = %v %q", &smm, data[4+n:])
	}
}

func want(t *testing.T, f Frame, typ pulsar.BaseCommand_Type) {
	t.Helper()
	if got := f.Command.GetType(); got != typ {
		t.Errorf("type = %s, want %s", got, typ)
	}
}

// TestGoldenBadChecksum: a SEND whose CRC is wrong is read without a connection error
// and reported as a *ChecksumError on the frame.
func TestGoldenBadChecksum(t *testing.T) {
	f := readOne(t, readHex(t, "send_bad_checksum.hex"))
	var ce *ChecksumError
	if !errors.As(f.PayloadErr, &ce) {
		t.Fatalf("PayloadErr = %v, want *ChecksumError", f.PayloadErr)
	}
	if ce.InFrame != 0x02c28a1c^0xdeadbeef || ce.Computed != 0x02c28a1c {
		t.Errorf("ChecksumError = %+v", ce)
	}
	if f.Payload.Metadata != nil {
		t.Errorf("metadata decoded despite a bad checksum")
	}
	if s := f.Command.GetSend(); s.GetProducerId() != 1 || s.GetSequenceId() != 0 {
		t.Errorf("send = %v; the broker needs it to answer SEND_ERROR", s)
	}
}
