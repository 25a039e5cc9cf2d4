package store

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden is one fixture: an annotated key and value in hex, fields separated by spaces.
type golden struct {
	file, comment string
	key, value    []string // hex fields
}

func (g golden) bytes(fields []string) []byte {
	b, err := hex.DecodeString(strings.Join(fields, ""))
	if err != nil {
		panic(err)
	}
	return b
}

func hexFields(b []byte, widths ...int) []string {
	var out []string
	for _, w := range widths {
		if w < 0 || w > len(b) {
			w = len(b)
		}
		out = append(out, hex.EncodeToString(b[:w]))
		b = b[w:]
	}
	return out
}

func goldens() []golden {
	ek := entryKey(7, 3)
	ev := encodeEntry(ek, 2, Checksum([]byte("hello")), []byte("hello"))
	lk := ledgerKey(7)
	lv := encodeState(lk, LedgerState{LAC: 2, LastEntry: 3, Fenced: true})
	return []golden{
		{"format_v1.golden", "format version key and value (FormatVersion 1)",
			hexFields(formatKey, -1), hexFields(encodeFormat(FormatVersion), -1)},
		{"entry_v1.golden", "entry record v1: ledger 7, entry 3, lac 2, payload \"hello\"\n# key: prefix | ledger | entry\n# value: version | lac | crc32c(payload) | crc32c(key||header) | payload",
			hexFields(ek, 1, 8, 8), hexFields(ev, 1, 8, 4, 4, -1)},
		{"tomb_v1.golden", "tombstone record v1: ledger 7 was deleted\n# key: prefix | ledger\n# value: version",
			hexFields(tombKey(7), 1, 8), hexFields(tombRecord, -1)},
		{"state_v1.golden", "ledger state record v1: ledger 7, fenced, lac 2, last entry 3\n# key: prefix | ledger\n# value: version | flags | lac | last entry | crc32c(key||record)",
			hexFields(lk, 1, 8), hexFields(lv, 1, 1, 8, 8, 4)},
	}
}

func (g golden) render() string {
	return fmt.Sprintf("# %s\nkey %s\nvalue %s\n", g.comment, strings.Join(g.key, " "), strings.Join(g.value, " "))
}

func readGolden(t *testing.T, file string) (key, value []byte) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatalf("%v (run go test -update to create)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), " ")
		b, err := hex.DecodeString(strings.ReplaceAll(rest, " ", ""))
		switch name {
		case "key":
			key = b
		case "value":
			value = b
		default:
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	return key, value
}

// TestFormatGolden pins the on-disk formats: if encoding changes, old databases become
// unreadable, so the change must come with a new FormatVersion and new fixtures.
func TestFormatGolden(t *testing.T) {
	for _, g := range goldens() {
		t.Run(g.file, func(t *testing.T) {
			if *update {
				if err := os.WriteFile(filepath.Join("testdata", g.file), []byte(g.render()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			key, value := readGolden(t, g.file)
			if !bytes.Equal(key, g.bytes(g.key)) || !bytes.Equal(value, g.bytes(g.value)) {
				t.Fatalf("encoding differs from testdata/%s:\n got key %x value %x\nwant key %x value %x",
					g.file, g.bytes(g.key), g.bytes(g.value), key, value)
			}
		})
	}
	// The fixtures decode to what they claim.
	k, v := readGolden(t, "entry_v1.golden")
	l, id, ok := parseEntryKey(k)
	if !ok || l != 7 || id != 3 {
		t.Fatalf("entry key decodes to %d/%d %v", l, id, ok)
	}
	e, err := decodeEntry(l, id, k, v)
	if err != nil || e.LAC != 2 || string(e.Payload) != "hello" {
		t.Fatalf("entry decodes to %+v %v", e, err)
	}
	k, v = readGolden(t, "tomb_v1.golden")
	if !bytes.Equal(k, tombKey(7)) || !bytes.Equal(v, tombRecord) {
		t.Fatalf("tombstone fixture %x %x is not ledger 7's", k, v)
	}
	k, v = readGolden(t, "state_v1.golden")
	st, err := decodeState(k, v)
	if err != nil || st != (LedgerState{LAC: 2, LastEntry: 3, Fenced: true}) {
		t.Fatalf("state decodes to %+v %v", st, err)
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	k := entryKey(1, 1)
	good := encodeEntry(k, 0, Checksum([]byte("p")), []byte("p"))
	mut := func(f func(v []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		key  []byte
		v    []byte
	}{
		{"short", k, good[:5]},
		{"empty", k, nil},
		{"bad version", k, mut(func(v []byte) []byte { v[0] = 2; return v })},
		{"lac flipped", k, mut(func(v []byte) []byte { v[4] ^= 1; return v })},
		{"payload flipped", k, mut(func(v []byte) []byte { v[len(v)-1] ^= 1; return v })},
		{"payload truncated", k, good[:len(good)-1]},
		{"under another key", entryKey(1, 2), good},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeEntry(1, 1, tc.key, tc.v)
			if _, ok := err.(*CorruptEntryError); !ok {
				t.Fatalf("got %v, want *CorruptEntryError", err)
			}
		})
	}
	if _, err := decodeEntry(1, 1, k, good); err != nil {
		t.Fatal(err)
	}
}
