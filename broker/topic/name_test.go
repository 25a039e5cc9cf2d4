package topic

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, full string
		part     int
	}{
		{"t", "persistent://public/default/t", -1},
		{"a/b/t", "persistent://a/b/t", -1},
		{"persistent://a/b/t", "persistent://a/b/t", -1},
		{"non-persistent://a/b/t", "non-persistent://a/b/t", -1},
		{"persistent://public/default/t-partition-3", "persistent://public/default/t-partition-3", 3},
		{"persistent://public/default/t-partition-x", "persistent://public/default/t-partition-x", -1},
		{"my.topic:v1=x", "persistent://public/default/my.topic:v1=x", -1},
	} {
		n, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if n.String() != tc.full || n.PartitionIndex() != tc.part {
			t.Errorf("Parse(%q) = %s part %d, want %s part %d", tc.in, n, n.PartitionIndex(), tc.full, tc.part)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", "a/b", "a/b/c/d", "http://a/b/c", "persistent://a/b", "persistent:///b/c",
		"persistent://a/../c", "persistent://a/b/..", "persistent://a b/c/d", "persistent://a/b/c\x00",
		"persistent://a/b/%2e%2e", "a/b/c/",
	} {
		if n, err := Parse(in); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Parse(%q) = %v, %v; want ErrInvalidName", in, n, err)
		}
	}
}

func TestPartitions(t *testing.T) {
	n, _ := Parse("persistent://a/b/t")
	p := n.Partition(7)
	if p.String() != "persistent://a/b/t-partition-7" || p.PartitionIndex() != 7 || p.Base() != n {
		t.Fatalf("partition round trip: %s %d %s", p, p.PartitionIndex(), p.Base())
	}
	if n.Base() != n || n.IsPartition() {
		t.Fatal("base of a non-partition")
	}
}
