package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// FormatVersion is the version of the key layout and record formats below, stored under
// formatKey. docs/format/bookie.md is the specification; change both together, bump the
// version, and keep the golden fixtures in testdata/ passing for the old versions.
const FormatVersion uint32 = 1

// Key prefixes. Keys of one kind share the first byte, so each kind is one contiguous
// range and ledger-wide operations are range operations.
const (
	prefixMeta   = 'm' // store metadata (the format version)
	prefixEntry  = 'e' // 'e' | ledger (8, BE) | entry (8, BE)  → entry record
	prefixLedger = 'l' // 'l' | ledger (8, BE)                  → ledger state record
	prefixTomb   = 't' // 't' | ledger (8, BE)                  → tombstone record
)

// formatKey holds FormatVersion as a 4-byte big-endian integer.
var formatKey = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC32C (Castagnoli) of p: the checksum a writer sends with an
// entry and the one the store keeps.
func Checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

const (
	entryKeyLen  = 17
	ledgerKeyLen = 9
)

// entryKey is 'e' | ledger | entry. Entry ids are non-negative, so their uint64 big-endian
// bytes sort numerically.
func entryKey(ledger uint64, entry int64) []byte {
	k := make([]byte, entryKeyLen)
	putEntryKey(k, ledger, entry)
	return k
}

// putEntryKey writes entryKey(ledger, entry) into k, which has entryKeyLen bytes.
func putEntryKey(k []byte, ledger uint64, entry int64) {
	k[0] = prefixEntry
	binary.BigEndian.PutUint64(k[1:9], ledger)
	binary.BigEndian.PutUint64(k[9:17], uint64(entry))
}

// parseEntryKey is the inverse of entryKey.
func parseEntryKey(k []byte) (ledger uint64, entry int64, ok bool) {
	if len(k) != entryKeyLen || k[0] != prefixEntry {
		return 0, 0, false
	}
	e := binary.BigEndian.Uint64(k[9:17])
	if e > math.MaxInt64 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k[1:9]), int64(e), true
}

// ledgerEntriesStart is the smallest possible entry key of ledger (inclusive bound).
func ledgerEntriesStart(ledger uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixEntry
	binary.BigEndian.PutUint64(k[1:9], ledger)
	return k
}

// ledgerEntriesEnd is the exclusive upper bound of ledger's entry keys.
func ledgerEntriesEnd(ledger uint64) []byte {
	if ledger == math.MaxUint64 {
		return []byte{prefixEntry + 1}
	}
	return ledgerEntriesStart(ledger + 1)
}

// ledgerKey is 'l' | ledger.
func ledgerKey(ledger uint64) []byte {
	k := make([]byte, ledgerKeyLen)
	putLedgerKey(k, ledger)
	return k
}

// putLedgerKey writes ledgerKey(ledger) into k, which has ledgerKeyLen bytes.
func putLedgerKey(k []byte, ledger uint64) {
	k[0] = prefixLedger
	binary.BigEndian.PutUint64(k[1:9], ledger)
}

func parseLedgerKey(k []byte) (uint64, bool) {
	if len(k) != ledgerKeyLen || k[0] != prefixLedger {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:9]), true
}

// tombKey is 't' | ledger: the tombstone DeleteLedger leaves. Ledger ids are never
// reused, so a tombstone is never in the way of a later ledger and is kept for good.
func tombKey(ledger uint64) []byte {
	k := make([]byte, ledgerKeyLen)
	k[0] = prefixTomb
	binary.BigEndian.PutUint64(k[1:9], ledger)
	return k
}

// Tombstone record, version 1: one byte, the record version. The key's presence is the
// fact ("this ledger was deleted here"); the version leaves room for more.
const tombRecordVersion = 1

var tombRecord = []byte{tombRecordVersion}

// Entry record, version 1:
//
//	[0]      record version (1)
//	[1:9]    LAC the writer sent with the entry, int64 big-endian (two's complement)
//	[9:13]   CRC32C of the payload, big-endian
//	[13:17]  CRC32C of key || record[0:13], big-endian (binds the header to its key)
//	[17:]    payload
const (
	entryRecordVersion = 1
	entryHeaderLen     = 17
)

func encodeEntry(key []byte, lac int64, crc uint32, payload []byte) []byte {
	v := make([]byte, entryHeaderLen+len(payload))
	putEntry(v, key, lac, crc, payload)
	return v
}

// putEntry writes the entry record into v, which has entryHeaderLen+len(payload) bytes.
// The builder uses it to encode straight into the Pebble batch.
func putEntry(v, key []byte, lac int64, crc uint32, payload []byte) {
	v[0] = entryRecordVersion
	binary.BigEndian.PutUint64(v[1:9], uint64(lac))
	binary.BigEndian.PutUint32(v[9:13], crc)
	binary.BigEndian.PutUint32(v[13:17], headerChecksum(key, v[:13]))
	copy(v[entryHeaderLen:], payload)
}

func headerChecksum(key, header []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, header)
}

// decodeEntry verifies a stored entry record and returns a copy of its payload. Any
// failed check is a *CorruptEntryError.
func decodeEntry(ledger uint64, entry int64, key, v []byte) (Entry, error) {
	corrupt := func(format string, args ...any) (Entry, error) {
		return Entry{}, &CorruptEntryError{Ledger: ledger, Entry: entry, Reason: fmt.Sprintf(format, args...)}
	}
	if len(v) < entryHeaderLen {
		return corrupt("record of %d bytes is shorter than its %d-byte header", len(v), entryHeaderLen)
	}
	if got, want := binary.BigEndian.Uint32(v[13:17]), headerChecksum(key, v[:13]); got != want {
		return corrupt("header crc32c %08x, computed %08x", got, want)
	}
	if v[0] != entryRecordVersion {
		return corrupt("unknown record version %d", v[0])
	}
	crc := binary.BigEndian.Uint32(v[9:13])
	payload := v[entryHeaderLen:]
	if got := Checksum(payload); got != crc {
		return corrupt("payload crc32c %08x, stored %08x", got, crc)
	}
	return Entry{
		Ledger:  ledger,
		ID:      entry,
		LAC:     int64(binary.BigEndian.Uint64(v[1:9])),
		CRC32C:  crc,
		Payload: append([]byte(nil), payload...),
	}, nil
}

// Ledger state record, version 1:
//
//	[0]      record version (1)
//	[1]      flags: bit 0 = fenced; other bits zero
//	[2:10]   LAC, int64 big-endian (-1: none)
//	[10:18]  last (highest) stored entry id, int64 big-endian (-1: none)
//	[18:22]  CRC32C of key || record[0:18], big-endian
const (
	stateRecordVersion = 1
	stateRecordLen     = 22
	flagFenced         = 1 << 0
)

func encodeState(key []byte, st LedgerState) []byte {
	v := make([]byte, stateRecordLen)
	putState(v, key, st)
	return v
}

// putState writes the state record into v, which has stateRecordLen bytes.
func putState(v, key []byte, st LedgerState) {
	v[0] = stateRecordVersion
	v[1] = 0 // v may be reused memory (a Pebble batch): set every byte
	if st.Fenced {
		v[1] |= flagFenced
	}
	binary.BigEndian.PutUint64(v[2:10], uint64(st.LAC))
	binary.BigEndian.PutUint64(v[10:18], uint64(st.LastEntry))
	binary.BigEndian.PutUint32(v[18:22], headerChecksum(key, v[:18]))
}

func decodeState(key, v []byte) (LedgerState, error) {
	if len(v) != stateRecordLen {
		return LedgerState{}, fmt.Errorf("state record of %d bytes, want %d", len(v), stateRecordLen)
	}
	if got, want := binary.BigEndian.Uint32(v[18:22]), headerChecksum(key, v[:18]); got != want {
		return LedgerState{}, fmt.Errorf("state crc32c %08x, computed %08x", got, want)
	}
	if v[0] != stateRecordVersion {
		return LedgerState{}, fmt.Errorf("unknown state record version %d", v[0])
	}
	if v[1]&^flagFenced != 0 {
		return LedgerState{}, fmt.Errorf("unknown state flags %#x", v[1])
	}
	return LedgerState{
		Fenced:    v[1]&flagFenced != 0,
		LAC:       int64(binary.BigEndian.Uint64(v[2:10])),
		LastEntry: int64(binary.BigEndian.Uint64(v[10:18])),
	}, nil
}

func encodeFormat(v uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, v)
}

func decodeFormat(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("%w: format value of %d bytes", ErrUnknownFormat, len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}
