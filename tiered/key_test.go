package tiered

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"ledgers/public/default/t/ledger-12-0f1e", true},
		{"a.b/c-d_e~f", true},
		{"ünïcode/ключ", true},
		{strings.Repeat("k", MaxComponentLen), true},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{".", false},
		{"a/./b", false},
		{"a/../b", false},
		{"..", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\\b", false},
		{"\xff", false},
		{strings.Repeat("k", MaxComponentLen+1), false},
		{strings.Repeat("abcdefg/", 128) + "x", false},
	} {
		err := CheckKey(tc.key)
		if tc.ok && err != nil {
			t.Errorf("CheckKey(%q) = %v, want nil", tc.key, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, want ErrInvalidKey", tc.key, err)
		}
	}
}

func TestChecksumErrorIsCorrupt(t *testing.T) {
	var err error = &ChecksumError{Key: "k", Ledger: 7, Block: 3, Want: 1, Got: 2}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatal("ChecksumError does not match ErrCorrupt")
	}
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Ledger != 7 || ce.Block != 3 {
		t.Fatalf("errors.As lost the ledger/block: %+v", ce)
	}
	if msg := (&ChecksumError{Block: IndexBlock}).Error(); !strings.Contains(msg, "index") {
		t.Fatalf("index checksum error message %q does not say index", msg)
	}
}
