package service

import "testing"

// TestStickyKeyHash pins Key_Shared's hash to Pulsar's: Murmur3_32 (x86, seed 0) & 0x7fffffff
// mod 65536. murmur3_x86_32("a") = 0x3c2569b2 is the published test vector. Run under
// -race it also guards against hashing with murmur3.Sum32, which checkptr rejects.
func TestStickyKeyHash(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want uint16
	}{
		{"", 0},
		{"a", 0x3c2569b2 % 65536},
		{"NONE_KEY", 48803},
		{"key-00", 54212},
		{"order-4711", 59864},
		{"0123456789abcdef", 57567},
	} {
		if got := StickyKeyHash([]byte(tc.key)); got != tc.want {
			t.Errorf("StickyKeyHash(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}
