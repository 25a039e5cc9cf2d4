package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/proto/pulsar"
)

var keep = []byte("earlier frames")

func TestAppendFrameErrors(t *testing.T) {
	tests := []struct {
		name    string
		cmd     *pulsar.BaseCommand
		wantErr error
	}{
		{"type unset", &pulsar.BaseCommand{Success: &pulsar.CommandSuccess{RequestId: proto.Uint64(1)}}, ErrBadCommand},
		{"type undefined", &pulsar.BaseCommand{Type: pulsar.BaseCommand_Type(45).Enum()}, ErrBadCommand},
		{"body missing", &pulsar.BaseCommand{Type: pulsar.BaseCommand_SUCCESS.Enum()}, ErrMissingCommandBody},
		{"body for another type", &pulsar.BaseCommand{Type: pulsar.BaseCommand_PONG.Enum(), Ping: &pulsar.CommandPing{}}, ErrMissingCommandBody},
		{"required field missing", &pulsar.BaseCommand{
			Type:      pulsar.BaseCommand_CONNECTED.Enum(),
			Connected: &pulsar.CommandConnected{ProtocolVersion: proto.Int32(20)},
		}, ErrEncode},
		{"nested required field missing", &pulsar.BaseCommand{
			Type: pulsar.BaseCommand_SEND_RECEIPT.Enum(),
			SendReceipt: &pulsar.CommandSendReceipt{
				ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(2),
				MessageId: &pulsar.MessageIdData{LedgerId: proto.Uint64(1)},
			},
		}, ErrEncode},
		{"payload command", NewMessage(1, 2, 3, 0, nil), ErrWrongFrameKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := bytes.Clone(keep)
			out, err := AppendFrame(dst, tt.cmd)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !bytes.Equal(out, keep) {
				t.Errorf("dst changed on error: %q", out)
			}
		})
	}
}

func TestAppendPayloadFrameErrors(t *testing.T) {
	entry := entryOf(t, testMetadata(), []byte("x"), true)
	tests := []struct {
		name    string
		cmd     *pulsar.BaseCommand
		entry   []byte
		wantErr error
	}{
		{"simple command", NewPing(), entry, ErrWrongFrameKind},
		{"no entry", NewMessage(1, 2, 3, 0, nil), nil, ErrMissingPayload},
		{"checksum truncated", NewMessage(1, 2, 3, 0, nil), []byte{0x0e, 0x01, 1, 2, 3}, ErrMalformedPayload},
		{"metadata size missing", NewMessage(1, 2, 3, 0, nil), []byte{0x0e, 0x01, 1, 2, 3, 4, 0}, ErrMalformedPayload},
		{"metadata size past end", NewMessage(1, 2, 3, 0, nil), []byte{0, 0, 0, 5, 1}, ErrMalformedPayload},
		{"required field missing", &pulsar.BaseCommand{
			Type:    pulsar.BaseCommand_MESSAGE.Enum(),
			Message: &pulsar.CommandMessage{ConsumerId: proto.Uint64(1)},
		}, entry, ErrEncode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := bytes.Clone(keep)
			out, err := AppendPayloadFrame(dst, tt.cmd, nil, tt.entry)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !bytes.Equal(out, keep) {
				t.Errorf("dst changed on error: %q", out)
			}
		})
	}
}

// TestAppendPayloadFrameChecksum: a stored checksum is forwarded as is (even a wrong
// one: corruption must reach the consumer, not be re-signed), and an entry without
// one gets a correct one.
func TestAppendPayloadFrameChecksum(t *testing.T) {
	md := testMetadata()
	withCRC := entryOf(t, md, []byte("payload"), true)
	withoutCRC := entryOf(t, md, []byte("payload"), false)
	corrupted := bytes.Clone(withCRC)
	corrupted[len(corrupted)-1] ^= 0x20

	tests := []struct {
		name      string
		entry     []byte
		wantEntry []byte // Payload.Entry as the consumer will see it
		wantErr   error  // Frame.PayloadErr on the consumer's side
	}{
		{"forwarded", withCRC, withCRC, nil},
		{"computed", withoutCRC, withCRC, nil},
		{"corruption passes through", corrupted, corrupted, ErrChecksumMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := AppendPayloadFrame(nil, NewMessage(1, 5, 6, 0, nil), nil, tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			f := readOne(t, out)
			if !errors.Is(f.PayloadErr, tt.wantErr) || (tt.wantErr == nil) != (f.PayloadErr == nil) {
				t.Fatalf("PayloadErr = %v, want %v", f.PayloadErr, tt.wantErr)
			}
			if !bytes.Equal(f.Payload.Entry, tt.wantEntry) {
				t.Errorf("entry = %x, want %x", f.Payload.Entry, tt.wantEntry)
			}
		})
	}
}

// TestAppendBatches appends many frames to one buffer and reads them all back.
func TestAppendBatches(t *testing.T) {
	entry := entryOf(t, testMetadata(), []byte("m"), true)
	var buf []byte
	var err error
	for i := range 10 {
		if i%2 == 0 {
			buf, err = AppendFrame(buf, NewSendReceipt(1, uint64(i), 3, int64(i)))
		} else {
			buf, err = AppendPayloadFrame(buf, NewMessage(2, 3, int64(i), 0, nil), nil, entry)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(bytes.NewReader(buf), 0)
	for i := range 10 {
		f, err := r.ReadFrame()
		if err != nil || f.PayloadErr != nil {
			t.Fatalf("frame %d: %v %v", i, err, f.PayloadErr)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("after the last frame: %v", err)
	}
}

func TestAppendFrameAllocations(t *testing.T) {
	entry := entryOf(t, testMetadata(), []byte("m"), true)
	receipt := NewSendReceipt(1, 2, 3, 4)
	msg := NewMessage(1, 2, 3, 0, nil)
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		out, err := AppendFrame(buf, receipt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err = AppendPayloadFrame(out, msg, nil, entry); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per append into a buffer with room, want 0", allocs)
	}
}

// countingWriter records each Write call.
type countingWriter struct {
	writes [][]byte
	err    error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

func TestWriter(t *testing.T) {
	cw := &countingWriter{}
	w := NewWriter(cw, 256)
	entry := entryOf(t, testMetadata(), []byte("m"), true)

	if err := w.WriteCommand(NewPong()); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePayloadCommand(NewMessage(1, 2, 3, 0, nil), nil, entry); err != nil {
		t.Fatal(err)
	}
	before := w.Buffered()
	// Over the limit: refused, buffer untouched.
	big := entryOf(t, testMetadata(), make([]byte, 300), true)
	var fse *FrameSizeError
	if err := w.WritePayloadCommand(NewMessage(1, 2, 4, 0, nil), nil, big); !errors.As(err, &fse) || fse.Max != 256 {
		t.Fatalf("oversized frame: err = %v", err)
	}
	// Invalid: refused, buffer untouched.
	if err := w.WriteCommand(&pulsar.BaseCommand{Type: pulsar.BaseCommand_SUCCESS.Enum()}); err == nil {
		t.Fatal("invalid command accepted")
	}
	if w.Buffered() != before {
		t.Fatalf("buffered %d bytes after refused frames, want %d", w.Buffered(), before)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(cw.writes) != 1 || w.Buffered() != 0 {
		t.Fatalf("%d writes, %d still buffered; want 1 write, 0 buffered", len(cw.writes), w.Buffered())
	}
	if err := w.Flush(); err != nil || len(cw.writes) != 1 {
		t.Fatalf("empty flush wrote: %v, %d writes", err, len(cw.writes))
	}
	r := NewReader(bytes.NewReader(cw.writes[0]), 0)
	for _, typ := range []pulsar.BaseCommand_Type{pulsar.BaseCommand_PONG, pulsar.BaseCommand_MESSAGE} {
		if f, err := r.ReadFrame(); err != nil || f.Command.GetType() != typ {
			t.Fatalf("read back %v, %v; want %s", f.Command, err, typ)
		}
	}

	cw.err = errors.New("broken pipe")
	if err := w.WriteCommand(NewPing()); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); !errors.Is(err, cw.err) {
		t.Fatalf("Flush error = %v, want it to wrap %v", err, cw.err)
	}
	if w.Buffered() != 0 {
		t.Errorf("buffer kept after a failed flush")
	}
}

func TestWriterReleasesLargeBuffer(t *testing.T) {
	w := NewWriter(io.Discard, 0)
	entry := entryOf(t, testMetadata(), make([]byte, keepWriteBuffer), true)
	if err := w.WritePayloadCommand(NewMessage(1, 2, 3, 0, nil), nil, entry); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if cap(w.buf) != 0 {
		t.Errorf("kept a %d-byte buffer after flushing a large frame", cap(w.buf))
	}
}
