package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/proto/pulsar"
)

// rawFrame assembles a frame from raw command bytes and a raw payload section, with
// sizes computed honestly.
func rawFrame(cmd, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(cmd)+len(payload)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(cmd)))
	b = append(b, cmd...)
	return append(b, payload...)
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testMetadata is a valid MessageMetadata.
func testMetadata() *pulsar.MessageMetadata {
	return &pulsar.MessageMetadata{
		ProducerName: proto.String("p"),
		SequenceId:   proto.Uint64(9),
		PublishTime:  proto.Uint64(1700000000000),
	}
}

// entryOf builds [0x0e01][crc][size][metadata][data], or without the checksum section.
func entryOf(t testing.TB, md *pulsar.MessageMetadata, data []byte, withChecksum bool) []byte {
	t.Helper()
	m := mustMarshal(t, md)
	body := binary.BigEndian.AppendUint32(nil, uint32(len(m)))
	body = append(append(body, m...), data...)
	if !withChecksum {
		return body
	}
	e := binary.BigEndian.AppendUint16(nil, MagicChecksum)
	e = binary.BigEndian.AppendUint32(e, checksum(body))
	return append(e, body...)
}

func sendCmd(t testing.TB) []byte { return mustMarshal(t, NewSend(4, 5, 0)) }

// TestReadFrameFatal covers every error that ends a connection.
func TestReadFrameFatal(t *testing.T) {
	ping := mustMarshal(t, NewPing())
	tests := []struct {
		name    string
		input   []byte
		max     int
		wantErr error
	}{
		{"clean end", nil, 0, io.EOF},
		{"end inside size", []byte{0, 0}, 0, ErrTruncatedFrame},
		{"end inside command size", []byte{0, 0, 0, 8, 0, 0}, 0, ErrTruncatedFrame},
		{"end inside command", rawFrame(ping, nil)[:9], 0, ErrTruncatedFrame},
		{"end inside payload", rawFrame(sendCmd(t), entryOf(t, testMetadata(), []byte("x"), true))[:30], 0, ErrTruncatedFrame},
		{"over default limit", []byte{0x00, 0x50, 0x28, 0x01, 0, 0, 0, 2}, 0, ErrFrameTooLarge},
		{"over configured limit", rawFrame(ping, make([]byte, 60)), 64, ErrFrameTooLarge},
		{"http on the pulsar port", []byte("GET / HTTP/1.1\r\n\r\n"), 0, ErrFrameTooLarge},
		{"total below command size field", []byte{0, 0, 0, 3, 0, 0, 0}, 0, ErrFrameTooSmall},
		{"command size past frame", []byte{0, 0, 0, 6, 0, 0, 0, 3, 8, 18}, 0, ErrBadCommandSize},
		{"empty command", rawFrame(nil, nil), 0, ErrBadCommand},
		{"garbage command", rawFrame([]byte{0xff, 0xff, 0xff}, nil), 0, ErrBadCommand},
		{"type not in the protocol", rawFrame([]byte{0x08, 42}, nil), 0, ErrBadCommand},
		{"required field missing", rawFrame(mustMarshal(t, &pulsar.BaseCommand{
			Type:    pulsar.BaseCommand_SUCCESS.Enum(),
			Success: &pulsar.CommandSuccess{},
		}), nil), 0, ErrBadCommand},
		{"body missing", rawFrame([]byte{0x08, 6}, nil), 0, ErrMissingCommandBody},
		{"payload after ping", rawFrame(ping, []byte{0x0e, 0x01}), 0, ErrUnexpectedPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.input), tt.max).ReadFrame()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestReadFrameLimitBoundary(t *testing.T) {
	frame := rawFrame(mustMarshal(t, NewPing()), nil)
	max := len(frame) - 4
	if _, err := NewReader(bytes.NewReader(frame), max).ReadFrame(); err != nil {
		t.Fatalf("frame of exactly the limit: %v", err)
	}
	_, err := NewReader(bytes.NewReader(frame), max-1).ReadFrame()
	var fse *FrameSizeError
	if !errors.As(err, &fse) || fse.Size != uint64(max) || fse.Max != uint64(max-1) {
		t.Fatalf("err = %v, want FrameSizeError{%d, %d}", err, max, max-1)
	}
}

func TestReadFrameUnderlyingError(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := NewReader(iotest.ErrReader(boom), 0).ReadFrame()
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
	// The same error met in the middle of a frame.
	r := io.MultiReader(bytes.NewReader([]byte{0, 0, 0, 9}), iotest.ErrReader(boom))
	if _, err := NewReader(r, 0).ReadFrame(); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
}

// TestReadFramePayload covers payload problems that spoil one message but not the
// connection, and the optional parts of the payload section.
func TestReadFramePayload(t *testing.T) {
	md := testMetadata()
	good := entryOf(t, md, []byte("data"), true)
	badCRC := bytes.Clone(good)
	badCRC[5] ^= 1
	noRequired := entryOf(t, &pulsar.MessageMetadata{ProducerName: proto.String("p")}, nil, true)
	bem := mustMarshal(t, &pulsar.BrokerEntryMetadata{Index: proto.Uint64(7)})
	withBEM := binary.BigEndian.AppendUint16(nil, MagicBrokerEntryMetadata)
	withBEM = binary.BigEndian.AppendUint32(withBEM, uint32(len(bem)))
	withBEM = append(append(withBEM, bem...), good...)

	tests := []struct {
		name     string
		payload  []byte
		wantErr  error
		checksum bool
		bemIndex uint64
		data     string
	}{
		{name: "valid", payload: good, checksum: true, data: "data"},
		{name: "no checksum section", payload: entryOf(t, md, []byte("data"), false), data: "data"},
		{name: "empty data", payload: entryOf(t, md, nil, true), checksum: true},
		{name: "broker entry metadata", payload: withBEM, checksum: true, bemIndex: 7, data: "data"},
		{name: "missing", payload: nil, wantErr: ErrMissingPayload},
		{name: "bad checksum", payload: badCRC, wantErr: ErrChecksumMismatch},
		{name: "checksum truncated", payload: []byte{0x0e, 0x01, 0, 0}, wantErr: ErrMalformedPayload},
		{name: "metadata size missing", payload: []byte{0, 0}, wantErr: ErrMalformedPayload},
		{name: "metadata size past end", payload: []byte{0, 0, 0, 9, 1}, wantErr: ErrMalformedPayload},
		{name: "metadata required field missing", payload: noRequired, wantErr: ErrMalformedPayload},
		{name: "metadata garbage", payload: entryOfRaw([]byte{0xff, 0xff}), wantErr: ErrMalformedPayload},
		{name: "broker entry header truncated", payload: []byte{0x0e, 0x02, 0, 0}, wantErr: ErrMalformedPayload},
		{name: "broker entry size past end", payload: []byte{0x0e, 0x02, 0, 0, 1, 0, 8}, wantErr: ErrMalformedPayload},
		{name: "broker entry garbage", payload: []byte{0x0e, 0x02, 0, 0, 0, 1, 0xff}, wantErr: ErrMalformedPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A PING after the SEND proves the stream is still in step.
			stream := append(rawFrame(sendCmd(t), tt.payload), rawFrame(mustMarshal(t, NewPing()), nil)...)
			r := NewReader(bytes.NewReader(stream), 0)
			f, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
			if !bytes.Equal(f.HeadersAndPayload, tt.payload) {
				t.Errorf("HeadersAndPayload changed: %x, sent %x", f.HeadersAndPayload, tt.payload)
			}
			if !errors.Is(f.PayloadErr, tt.wantErr) || (tt.wantErr == nil) != (f.PayloadErr == nil) {
				t.Fatalf("PayloadErr = %v, want %v", f.PayloadErr, tt.wantErr)
			}
			if next, err := r.ReadFrame(); err != nil || next.Command.GetType() != pulsar.BaseCommand_PING {
				t.Fatalf("frame after it: %v, %v", next.Command, err)
			}
			if tt.wantErr != nil {
				return
			}
			p := f.Payload
			if p.HasChecksum != tt.checksum || string(p.Data) != tt.data ||
				p.BrokerEntryMetadata.GetIndex() != tt.bemIndex || !proto.Equal(p.Metadata, md) {
				t.Errorf("payload = %+v", p)
			}
		})
	}
}

func entryOfRaw(metadata []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(metadata)))
	return append(b, metadata...)
}

// TestReadFrameUnservedCommand: a command type Strata declares but does not serve
// decodes, with its body left in unknown fields, so the connection can reject it.
func TestReadFrameUnservedCommand(t *testing.T) {
	// NEW_TXN (50) with body field 50 = {request_id: 3}.
	cmd := []byte{0x08, 50, 0x92, 0x03, 0x02, 0x08, 0x03}
	f, err := NewReader(bytes.NewReader(rawFrame(cmd, nil)), 0).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if f.Command.GetType() != pulsar.BaseCommand_NEW_TXN {
		t.Fatalf("type = %s", f.Command.GetType())
	}
	if _, ok := RequestID(f.Command); ok {
		t.Errorf("RequestID found a request id in a body the schema does not declare")
	}
}

// TestReadFrameSequence reads several frames from one stream and checks that nothing
// handed out earlier (payload bytes, decoded commands) is overwritten by later reads.
func TestReadFrameSequence(t *testing.T) {
	e1 := entryOf(t, testMetadata(), []byte("first"), true)
	e2 := entryOf(t, testMetadata(), []byte("second"), true)
	connect := NewConnect("Pulsar-Go-0.19.0", 20)
	connect.Connect.AuthData = []byte("token-bytes")
	var stream []byte
	stream = append(stream, rawFrame(mustMarshal(t, connect), nil)...)
	stream = append(stream, rawFrame(sendCmd(t), e1)...)
	stream = append(stream, rawFrame(sendCmd(t), e2)...)
	stream = append(stream, rawFrame(mustMarshal(t, NewPing()), nil)...)
	// Longer than the first CONNECT, so that it overwrites all of the reused buffer.
	stream = append(stream, rawFrame(mustMarshal(t, NewConnect(strings.Repeat("x", 200), 20)), nil)...)
	// One byte at a time: every read is a short read.
	r := NewReader(iotest.OneByteReader(bytes.NewReader(stream)), 0)

	var got []Frame
	for {
		f, err := r.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	wantTypes := []pulsar.BaseCommand_Type{pulsar.BaseCommand_CONNECT, pulsar.BaseCommand_SEND, pulsar.BaseCommand_SEND, pulsar.BaseCommand_PING, pulsar.BaseCommand_CONNECT}
	if len(got) != len(wantTypes) {
		t.Fatalf("read %d frames, want %d", len(got), len(wantTypes))
	}
	for i, f := range got {
		if f.Command.GetType() != wantTypes[i] {
			t.Errorf("frame %d: type %s, want %s", i, f.Command.GetType(), wantTypes[i])
		}
	}
	if !bytes.Equal(got[1].HeadersAndPayload, e1) || !bytes.Equal(got[2].HeadersAndPayload, e2) {
		t.Errorf("payload bytes were overwritten by later reads")
	}
	// Decoded commands must not alias the reader's reused command buffer.
	if c := got[0].Command.GetConnect(); !proto.Equal(c, connect.Connect) {
		t.Errorf("CONNECT changed by later reads: %v", c)
	}
}

// TestReadFrameAllocationBound: a peer announcing a frame of the maximum size and then
// sending almost nothing must not make the reader allocate the announced size.
func TestReadFrameAllocationBound(t *testing.T) {
	cmd := sendCmd(t)
	header := binary.BigEndian.AppendUint32(nil, DefaultMaxFrameSize)
	header = binary.BigEndian.AppendUint32(header, uint32(len(cmd)))
	stream := append(append(header, cmd...), 0x0e, 0x01, 0, 0, 0, 0)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := NewReader(bytes.NewReader(stream), 0).ReadFrame()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncatedFrame) {
		t.Fatalf("err = %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes for a %d-byte stream", grew, len(stream))
	}
}

func TestReadExactGrowth(t *testing.T) {
	tests := []struct {
		name    string
		have    int // bytes available
		want    int // bytes requested
		maxCap  int // largest acceptable capacity
		wantErr bool
	}{
		{"small, all there", 100, 100, 100, false},
		{"large, all there", 3 << 20, 3 << 20, 3 << 20, false},
		{"large, little there", 10, 5 << 20, growStep, true},
		{"large, half there", 1 << 20, 4 << 20, 2 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := bytes.Repeat([]byte{7}, tt.have)
			buf, err := readExact(bytes.NewReader(src), nil, tt.want)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if cap(buf) > tt.maxCap {
				t.Errorf("cap = %d, want <= %d", cap(buf), tt.maxCap)
			}
			if len(buf) != min(tt.have, tt.want) || !bytes.Equal(buf, src[:len(buf)]) {
				t.Errorf("read %d bytes, want %d", len(buf), min(tt.have, tt.want))
			}
		})
	}
}
