package wire

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// fuzzMaxFrame keeps fuzz inputs' frames small enough to explore quickly.
const fuzzMaxFrame = 1 << 16

// readErrors are every error ReadFrame may return; anything else is a bug.
var readErrors = []error{
	io.EOF, ErrTruncatedFrame, ErrFrameTooLarge, ErrFrameTooSmall, ErrBadCommandSize,
	ErrBadCommand, ErrMissingCommandBody, ErrUnexpectedPayload,
}

// payloadErrors are every error a Frame.PayloadErr or ParsePayload may hold.
var payloadErrors = []error{ErrChecksumMismatch, ErrMalformedPayload, ErrMissingPayload}

func isOneOf(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// FuzzReadFrame feeds arbitrary bytes to a Reader. Beyond never panicking it checks that
// every error is one of the typed ones, that the Frame invariants hold, and that each
// frame read re-encodes into one that reads back the same. Seeds: testdata/fuzz/FuzzReadFrame.
func FuzzReadFrame(f *testing.F) {
	for _, name := range []string{"connect.hex", "send.hex", "send_batch.hex", "message_broker_entry_metadata.hex"} {
		f.Add(readHex(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParsePayload(data); err != nil && !isOneOf(err, payloadErrors) {
			t.Fatalf("ParsePayload: untyped error %v", err)
		}
		r := NewReader(bytes.NewReader(data), fuzzMaxFrame)
		for {
			fr, err := r.ReadFrame()
			if err != nil {
				if !isOneOf(err, readErrors) {
					t.Fatalf("ReadFrame: untyped error %v", err)
				}
				return
			}
			checkFrame(t, fr)
		}
	})
}

func checkFrame(t *testing.T, fr Frame) {
	t.Helper()
	cmd := fr.Command
	if cmd == nil || cmd.Type == nil {
		t.Fatalf("frame without a command type")
	}
	if fr.PayloadErr != nil && !isOneOf(fr.PayloadErr, payloadErrors) {
		t.Fatalf("PayloadErr: untyped error %v", fr.PayloadErr)
	}
	if !CarriesPayload(cmd.GetType()) {
		if fr.HeadersAndPayload != nil || fr.PayloadErr != nil {
			t.Fatalf("%s frame with a payload", cmd.GetType())
		}
		out, err := AppendFrame(nil, cmd)
		if err != nil {
			t.Fatalf("re-encoding %s: %v", cmd.GetType(), err)
		}
		back := readOne(t, out)
		sameCommand(t, back.Command, cmd)
		return
	}
	if fr.HeadersAndPayload == nil && !errors.Is(fr.PayloadErr, ErrMissingPayload) {
		t.Fatalf("%s without payload, PayloadErr = %v", cmd.GetType(), fr.PayloadErr)
	}
	if fr.PayloadErr != nil {
		return
	}
	p := fr.Payload
	out, err := AppendPayloadFrame(nil, cmd, p.BrokerEntryMetadata, p.Entry)
	if err != nil {
		t.Fatalf("re-encoding %s: %v", cmd.GetType(), err)
	}
	back := readOne(t, out)
	if back.PayloadErr != nil {
		t.Fatalf("re-encoded payload: %v", back.PayloadErr)
	}
	sameCommand(t, back.Command, cmd)
	wantEntry := p.Entry
	if !p.HasChecksum {
		// The encoder added the checksum section in front.
		wantEntry = back.Payload.Entry[magicLen+checksumLen:]
		if !bytes.Equal(wantEntry, p.Entry) {
			t.Fatalf("entry changed when its checksum was added")
		}
		wantEntry = back.Payload.Entry
	}
	if !bytes.Equal(back.Payload.Entry, wantEntry) || !bytes.Equal(back.Payload.Data, p.Data) {
		t.Fatalf("entry not carried unchanged")
	}
	sameCommand(t, back.Payload.Metadata, p.Metadata)
	sameCommand(t, back.Payload.BrokerEntryMetadata, p.BrokerEntryMetadata)
}

// sameCommand compares two messages by their deterministic encoding (proto.Equal would
// call NaN doubles different).
func sameCommand(t *testing.T, got, want proto.Message) {
	t.Helper()
	opts := proto.MarshalOptions{Deterministic: true, AllowPartial: true}
	g, err1 := opts.Marshal(got)
	w, err2 := opts.Marshal(want)
	if err1 != nil || err2 != nil || !bytes.Equal(g, w) {
		t.Fatalf("round trip changed the message (%v, %v):\n got %v\nwant %v", err1, err2, got, want)
	}
}

// TestFuzzSeeds runs the seed corpus through the same checks in ordinary test runs,
// and pins what each hand-made seed must produce.
func TestFuzzSeeds(t *testing.T) {
	tests := []struct {
		seed    string
		wantErr error // first error from ReadFrame after the frames; nil means io.EOF
		payload error // PayloadErr of the first frame
	}{
		{seed: "connect"},
		{seed: "send"},
		{seed: "two_frames"},
		{seed: "send_bad_checksum", payload: ErrChecksumMismatch},
		{seed: "bad_checksum_magic", payload: ErrMalformedPayload},
		{seed: "metadata_size_past_frame", payload: ErrMalformedPayload},
		{seed: "bad_broker_entry_metadata_size", payload: ErrMalformedPayload},
		{seed: "send_without_payload", payload: ErrMissingPayload},
		{seed: "txn_command"},
		{seed: "truncated_header", wantErr: ErrTruncatedFrame},
		{seed: "truncated_command", wantErr: ErrTruncatedFrame},
		{seed: "truncated_payload", wantErr: ErrTruncatedFrame},
		{seed: "oversized_total", wantErr: ErrFrameTooLarge},
		{seed: "http_request", wantErr: ErrFrameTooLarge},
		{seed: "command_size_past_frame", wantErr: ErrBadCommandSize},
		{seed: "total_below_minimum", wantErr: ErrFrameTooSmall},
		{seed: "ping_with_payload", wantErr: ErrUnexpectedPayload},
		{seed: "unknown_type", wantErr: ErrBadCommand},
	}
	for _, tt := range tests {
		t.Run(tt.seed, func(t *testing.T) {
			data := readSeed(t, tt.seed)
			r := NewReader(bytes.NewReader(data), fuzzMaxFrame)
			first := true
			for {
				fr, err := r.ReadFrame()
				if err != nil {
					want := tt.wantErr
					if want == nil {
						want = io.EOF
					}
					if !errors.Is(err, want) {
						t.Fatalf("err = %v, want %v", err, want)
					}
					return
				}
				if first && (!errors.Is(fr.PayloadErr, tt.payload) || (tt.payload == nil) != (fr.PayloadErr == nil)) {
					t.Fatalf("PayloadErr = %v, want %v", fr.PayloadErr, tt.payload)
				}
				first = false
				checkFrame(t, fr)
			}
		})
	}
}

// readSeed decodes a corpus file in the "go test fuzz v1" format holding one []byte.
func readSeed(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzReadFrame", name))
	if err != nil {
		t.Fatal(err)
	}
	const header = "go test fuzz v1\n[]byte("
	s := string(raw)
	if len(s) < len(header)+2 || s[:len(header)] != header {
		t.Fatalf("%s: not a fuzz corpus file", name)
	}
	s = strings.TrimSpace(s[len(header):])
	q, ok := strings.CutSuffix(s, ")")
	if !ok {
		t.Fatalf("%s: no closing parenthesis", name)
	}
	b, err := strconv.Unquote(q)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(b)
}
