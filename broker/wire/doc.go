// Package wire is the frame codec of the Pulsar binary protocol: it turns the bytes of
// a client connection into decoded commands and back, and nothing more. It knows no
// topics, producers or sessions; broker/ code above it does.
//
// # Frames
//
// Every frame is
//
//	[u32 totalSize][u32 commandSize][BaseCommand]                     simple command
//	[u32 totalSize][u32 commandSize][BaseCommand][headers and payload] SEND, MESSAGE
//
// with big-endian integers, totalSize counting every byte after itself. The headers and
// payload section is
//
//	[0x0e02][u32 size][BrokerEntryMetadata]    optional, MESSAGE only
//	[0x0e01][u32 crc32c]                       checksum, always written by clients
//	[u32 metadataSize][MessageMetadata][payload]
//
// where the CRC32-C (Castagnoli) covers metadataSize through the end of the payload.
// docs/format/pulsar-frames.md specifies it in full, with a worked hex example.
//
// # Reading
//
// A Reader reads one frame per ReadFrame call. Its errors are fatal to the connection
// (oversized or inconsistent sizes, an undecodable command, a command without its body,
// a payload on a command that takes none); the caller closes the connection. Problems
// confined to one message's payload — a checksum mismatch, undecodable metadata — leave
// the stream in step and are reported in Frame.PayloadErr instead, so that the broker
// can answer that SEND alone with SEND_ERROR (ChecksumError for a bad CRC).
//
// # Writing
//
// AppendFrame and AppendPayloadFrame append one encoded frame to a byte slice, so a
// connection's writer can batch many frames into a single write; Writer wraps them
// around an io.Writer with a reused buffer. Encoding enforces proto2 required fields,
// so a frame the client would reject (and drop the connection over) is never sent;
// the New* constructors fill every required field of the responses a broker sends.
//
// # Invariants
//
//   - A message's stored bytes are exactly what the producer sent, from the 0x0e01
//     magic to the end of the payload (Payload.Entry). The broker never re-encodes
//     MessageMetadata, so consumers' checksums, decompression and decryption work.
//   - A MESSAGE frame forwards a stored checksum section unchanged: the CRC was checked
//     when the SEND arrived and covers bytes that have not changed since, so a
//     corruption in storage reaches the consumer as a mismatch instead of being
//     laundered by a fresh checksum. An entry stored without a checksum (a client that
//     sent none) gets one computed, because pulsar-client-go requires it on MESSAGE.
//   - No size read off the wire is trusted before it is checked against the Reader's
//     limit, and buffers grow only as bytes actually arrive, so a peer cannot make the
//     broker allocate much more than it sends (at most 64 KiB, or twice what arrived).
//   - Decoding and encoding never panic on any input; FuzzReadFrame checks this.
//
// Readers and Writers are not safe for concurrent use: each belongs to the one
// goroutine that owns its side of a connection.
package wire
