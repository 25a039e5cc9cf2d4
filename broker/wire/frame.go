package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/strata-io/strata/proto/pulsar"
)

// Sizes and magic numbers of the frame format.
const (
	// DefaultMaxMessageSize is Pulsar's default limit on metadata+payload of one
	// message, and what pulsar-client-go assumes when CONNECTED carries none.
	DefaultMaxMessageSize = 5 << 20
	// FramePadding is the room a frame may take beyond the message size for the
	// command and headers; clients drop frames over maxMessageSize+FramePadding.
	FramePadding = 10 << 10
	// DefaultMaxFrameSize is the Reader's and Writer's default limit on totalSize.
	DefaultMaxFrameSize = DefaultMaxMessageSize + FramePadding

	// MagicChecksum opens the checksummed section of a payload.
	MagicChecksum uint16 = 0x0e01
	// MagicBrokerEntryMetadata opens the optional broker entry metadata section.
	MagicBrokerEntryMetadata uint16 = 0x0e02

	sizeLen     = 4 // a u32 size field
	magicLen    = 2
	checksumLen = 4
)

// castagnoli is the CRC32-C table. It is never written after initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Frame is one decoded frame.
type Frame struct {
	// Command is the decoded BaseCommand.
	// Invariant: non-nil, Type set, and the body field for Type set whenever the schema
	// declares one (every type Strata serves).
	Command *pulsar.BaseCommand

	// HeadersAndPayload is every byte after the command, exactly as received, or nil
	// for a frame without a payload section. The caller owns it: the Reader never
	// reuses it.
	HeadersAndPayload []byte

	// Payload is HeadersAndPayload taken apart. Its slices alias HeadersAndPayload.
	// It is meaningful only when HeadersAndPayload is non-nil; after a checksum
	// mismatch it holds the sections found up to the checksum, and no Metadata.
	Payload Payload

	// PayloadErr, when non-nil, says this one message is unusable while the
	// connection is fine: a *ChecksumError, ErrMalformedPayload or ErrMissingPayload.
	PayloadErr error
}

// Payload is the parsed headers-and-payload section of a SEND or MESSAGE frame, or a
// stored entry. Its byte slices alias the input it was parsed from.
type Payload struct {
	// BrokerEntryMetadata is the 0x0e02 section, or nil when absent.
	BrokerEntryMetadata *pulsar.BrokerEntryMetadata

	// Entry is the input from the 0x0e01 magic (or, without a checksum, from
	// metadataSize) to the end: what the broker stores and what AppendPayloadFrame
	// takes back to build a MESSAGE.
	Entry []byte

	// HasChecksum is whether the 0x0e01 section is present. When it is, Checksum
	// holds it and it has been verified (else ParsePayload returned *ChecksumError).
	HasChecksum bool
	Checksum    uint32

	// Metadata is the decoded MessageMetadata; nil if parsing stopped early.
	Metadata *pulsar.MessageMetadata

	// Data is the message payload after the metadata: compressed, encrypted or
	// batched as the producer sent it. It may be empty.
	Data []byte
}

// ParsePayload takes apart a headers-and-payload section (from a frame, or a stored
// entry) without copying: optional broker entry metadata, optional checksum (verified),
// MessageMetadata (decoded, required fields checked) and payload. It returns a
// *ChecksumError on a CRC mismatch and wraps ErrMalformedPayload on any structural
// problem. Every size is checked against the bytes present; nothing is allocated from
// a size field.
func ParsePayload(b []byte) (Payload, error) {
	var p Payload
	rest := b
	if len(b) == 0 {
		return p, ErrMissingPayload
	}
	if startsWithMagic(rest, MagicBrokerEntryMetadata) {
		if len(rest) < magicLen+sizeLen {
			return p, fmt.Errorf("%w: broker entry metadata header truncated", ErrMalformedPayload)
		}
		size := binary.BigEndian.Uint32(rest[magicLen:])
		rest = rest[magicLen+sizeLen:]
		if uint64(size) > uint64(len(rest)) {
			return p, fmt.Errorf("%w: broker entry metadata size %d exceeds %d remaining bytes",
				ErrMalformedPayload, size, len(rest))
		}
		bem := new(pulsar.BrokerEntryMetadata)
		if err := proto.Unmarshal(rest[:size], bem); err != nil {
			return p, fmt.Errorf("%w: broker entry metadata: %w", ErrMalformedPayload, err)
		}
		p.BrokerEntryMetadata = bem
		rest = rest[size:]
	}

	p.Entry = rest
	if startsWithMagic(rest, MagicChecksum) {
		if len(rest) < magicLen+checksumLen {
			return p, fmt.Errorf("%w: checksum truncated", ErrMalformedPayload)
		}
		p.HasChecksum = true
		p.Checksum = binary.BigEndian.Uint32(rest[magicLen:])
		rest = rest[magicLen+checksumLen:]
		if got := checksum(rest); got != p.Checksum {
			return p, &ChecksumError{InFrame: p.Checksum, Computed: got}
		}
	}

	if len(rest) < sizeLen {
		return p, fmt.Errorf("%w: metadata size missing", ErrMalformedPayload)
	}
	size := binary.BigEndian.Uint32(rest)
	rest = rest[sizeLen:]
	if uint64(size) > uint64(len(rest)) {
		return p, fmt.Errorf("%w: metadata size %d exceeds %d remaining bytes",
			ErrMalformedPayload, size, len(rest))
	}
	md := new(pulsar.MessageMetadata)
	if err := proto.Unmarshal(rest[:size], md); err != nil {
		return p, fmt.Errorf("%w: message metadata: %w", ErrMalformedPayload, err)
	}
	p.Metadata = md
	p.Data = rest[size:]
	return p, nil
}

func startsWithMagic(b []byte, magic uint16) bool {
	return len(b) >= magicLen && binary.BigEndian.Uint16(b) == magic
}

// CarriesPayload reports whether frames of type t have a headers-and-payload section:
// SEND and MESSAGE do, every other command does not.
func CarriesPayload(t pulsar.BaseCommand_Type) bool {
	return t == pulsar.BaseCommand_SEND || t == pulsar.BaseCommand_MESSAGE
}

// body returns the descriptor of cmd's body field for its type, or nil when the schema
// has none (the transaction and topic-watch commands Strata does not serve). The body
// field's number equals the type's enum value.
func body(cmd *pulsar.BaseCommand) protoreflect.FieldDescriptor {
	fields := cmd.ProtoReflect().Descriptor().Fields()
	return fields.ByNumber(protoreflect.FieldNumber(cmd.GetType()))
}

// checkBody returns ErrMissingCommandBody if cmd's type has a body field that is unset,
// and ErrBadCommand if the type is not one the protocol defines (google.golang.org/protobuf
// keeps undeclared values of proto2 enums instead of rejecting them).
func checkBody(cmd *pulsar.BaseCommand) error {
	if cmd.Type == nil {
		return fmt.Errorf("%w: type not set", ErrBadCommand)
	}
	if t := cmd.GetType(); t.Descriptor().Values().ByNumber(t.Number()) == nil {
		return fmt.Errorf("%w: unknown command type %d", ErrBadCommand, int32(t))
	}
	if fd := body(cmd); fd != nil && !cmd.ProtoReflect().Has(fd) {
		return fmt.Errorf("%w: %s has no %s", ErrMissingCommandBody, cmd.GetType(), fd.Name())
	}
	return nil
}

// RequestID returns the request_id of cmd's body, for commands that have one. A
// connection uses it to answer ERROR to a request it will not serve. ok is false for
// commands without a request id and for types whose body the schema does not declare.
func RequestID(cmd *pulsar.BaseCommand) (id uint64, ok bool) {
	fd := body(cmd)
	if fd == nil || fd.Message() == nil {
		return 0, false
	}
	rf := fd.Message().Fields().ByName("request_id")
	if rf == nil || rf.Kind() != protoreflect.Uint64Kind {
		return 0, false
	}
	m := cmd.ProtoReflect().Get(fd).Message()
	if !m.Has(rf) {
		return 0, false
	}
	return m.Get(rf).Uint(), true
}
