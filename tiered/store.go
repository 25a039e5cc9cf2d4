package tiered

import (
	"context"
	"io"
	"iter"
)

// ObjectStore is a flat namespace of immutable byte objects named by keys. Implementations
// are safe for concurrent use.
//
// Keys are checked with CheckKey by every method; a bad key is ErrInvalidKey. Keys in one
// store must be prefix-free at "/": while "a/b" exists, "a" must not be put, and the other
// way round. The filesystem store and POSIX-backed S3 servers (versitygw) keep objects as
// files named by their keys, where "a" cannot be both a file and a directory; such a Put
// fails there. Offload keys name ledgers, never directories, so this costs nothing.
type ObjectStore interface {
	// Put stores everything read from body (until io.EOF) under key, replacing any object
	// already there. The new object becomes visible atomically when Put returns nil: a
	// concurrent or later reader sees either the old state or the whole new object. If
	// body returns an error, ctx ends or the store fails, Put returns a non-nil error and
	// the key keeps its previous state (an interrupted multipart upload may leave
	// invisible parts behind on S3 until it is aborted or expired by a lifecycle rule).
	// Put reads body sequentially and may buffer up to the store's part size in memory.
	Put(ctx context.Context, key string, body io.Reader) error

	// GetRange returns the bytes [off, off+length) of the object at key, cut short at the
	// end of the object: the result has min(length, size-off) bytes. length must be > 0
	// and off must be in [0, size); otherwise the error is ErrInvalidRange (so every range
	// of an empty object is invalid). A missing key is ErrNotFound.
	GetRange(ctx context.Context, key string, off, length int64) ([]byte, error)

	// Stat returns the object's size. A missing key is ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// List yields every object whose key starts with prefix (byte-wise, "" for all), in
	// increasing key order. It stops at the first error, which it yields with a zero
	// ObjectInfo. An object put or deleted while List runs may or may not be yielded.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]

	// Delete removes the object at key. Deleting a missing key is not an error, so a
	// retried or repeated Delete succeeds.
	Delete(ctx context.Context, key string) error
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key  string
	Size int64
}
