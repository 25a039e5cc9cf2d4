// Package tiered is the seam between Strata and the object storage that closed ledgers
// are offloaded to. It declares the ObjectStore interface that the offload code consumes,
// the key rules every store enforces alike, and the errors a caller acts on.
//
// The tree under it:
//
//   - tiered/memstore: in memory, for unit tests;
//   - tiered/fs: a local directory, the standalone default;
//   - tiered/s3: any S3-compatible server (aws-sdk-go-v2); tiered/s3/s3test runs a real
//     one (versitygw) as a process for tests;
//   - tiered/offload: the offloaded-ledger object format (docs/format/offload.md), its
//     writer and its reader;
//   - tiered/tieredtest: the conformance suite every ObjectStore passes.
//
// The tree is a leaf: it imports nothing of Strata's but proto (and, in tests,
// internal/testenv). TestImportRule keeps it that way.
//
// Invariants every store keeps (and tieredtest checks):
//   - A Put is atomic: readers see the whole new object or the previous state, never a
//     prefix; a Put that fails leaves the previous state.
//   - Keys are validated identically everywhere (CheckKey), so a key that works on the
//     in-memory store works on the filesystem and on S3.
//   - Stores never interpret object bytes; integrity of the contents is the offload
//     format's job (a CRC32C per block), not the transport's.
package tiered
