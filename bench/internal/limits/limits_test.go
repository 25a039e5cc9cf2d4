package limits

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 1000; i >= 1; i-- { // 1..1000 ms, unsorted
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := summarize(d)
	want := Latency{Count: 1000, P50Ms: 500, P99Ms: 990, P999Ms: 999, MaxMs: 1000}
	if got != want {
		t.Fatalf("summarize = %+v, want %+v", got, want)
	}
	if (summarize(nil) != Latency{}) {
		t.Fatal("summarize(nil) not zero")
	}
}

func TestMountOf(t *testing.T) {
	// Lines of /proc/self/mounts on the benchmark machine, plus a nested mount.
	mounts := `/dev/vda / ext4 rw,relatime,discard,resv_strict,resuid=65534,resgid=65534 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /work/main/bench/.work tmpfs rw 0 0
`
	for _, tc := range []struct{ path, want string }{
		{"/work/main", "/dev/vda (ext4, mounted on /)"},
		{"/work/main/bench/.work/x", "tmpfs (tmpfs, mounted on /work/main/bench/.work)"},
		{"/work/main/bench/.workers", "/dev/vda (ext4, mounted on /)"},
		{"/proc/1", "proc (proc, mounted on /proc)"},
	} {
		if got := mountOf(mounts, tc.path); got != tc.want {
			t.Errorf("mountOf(%s) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestShortRuns(t *testing.T) {
	s, err := SyncedWrites(t.TempDir(), 1024, 50*time.Millisecond)
	if err != nil || s.Latency.Count == 0 || s.SyncsPerS <= 0 {
		t.Fatalf("SyncedWrites = %+v, %v", s, err)
	}
	l, err := Loopback(64*1024, 50*time.Millisecond)
	if err != nil || l.MBPerS <= 0 {
		t.Fatalf("Loopback = %+v, %v", l, err)
	}
}
