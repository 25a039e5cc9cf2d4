package tiered

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Key limits. S3 allows 1024 bytes per key; a path component is held to 200 bytes so that
// the filesystem store can add its suffix and stay under the usual 255-byte name limit.
const (
	MaxKeyLen       = 1024
	MaxComponentLen = 200
)

// CheckKey reports whether key may name an object in every store: 1..MaxKeyLen bytes of
// valid UTF-8 without control characters or backslashes, made of "/"-separated components
// that are non-empty, at most MaxComponentLen bytes, and not "." or "..". The error wraps
// ErrInvalidKey.
func CheckKey(key string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why) }
	switch {
	case key == "":
		return bad("empty")
	case len(key) > MaxKeyLen:
		return bad("longer than 1024 bytes")
	case !utf8.ValidString(key):
		return bad("not UTF-8")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return bad("control character or backslash")
		}
	}
	for c := range strings.SplitSeq(key, "/") {
		switch {
		case c == "":
			return bad("empty path component")
		case c == "." || c == "..":
			return bad("dot path component")
		case len(c) > MaxComponentLen:
			return bad("path component longer than 200 bytes")
		}
	}
	return nil
}
