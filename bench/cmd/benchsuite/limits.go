package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/strata-io/strata/bench/internal/limits"
)

// limits measures the data disk and loopback TCP.
func (s *suite) limits(ctx context.Context) {
	const sec = "machine limits"
	dir := filepath.Join(s.workDir, "disk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.rep.Error("limits", err)
		return
	}
	defer s.clean(dir)
	s.rep.Machine.DataFS = limits.Filesystem(dir)

	s.progress("limits: 1 KiB appends, each fdatasync'ed, for %s", s.plan.Disk)
	if r, err := limits.SyncedWrites(dir, 1024, s.plan.Disk); err != nil {
		s.rep.Error("limits: synced appends", err)
	} else {
		s.rep.Raw["disk_append_1k"] = r
		s.rep.Add(sec, "disk.append1k.per_sec", "disk: 1 KiB append + fdatasync, one at a time", r.SyncsPerS, "/s")
		s.rep.Add(sec, "disk.append1k.p50_ms", "disk: synced 1 KiB append, p50", r.Latency.P50Ms, "ms")
		s.rep.Add(sec, "disk.append1k.p99_ms", "disk: synced 1 KiB append, p99", r.Latency.P99Ms, "ms")
		s.rep.Add(sec, "disk.append1k.p999_ms", "disk: synced 1 KiB append, p99.9", r.Latency.P999Ms, "ms")
	}
	if ctx.Err() != nil {
		return
	}
	s.progress("limits: 64 KiB group commits (write + fdatasync) for %s", s.plan.Disk)
	if r, err := limits.SyncedWrites(dir, 64*1024, s.plan.Disk); err != nil {
		s.rep.Error("limits: group commits", err)
	} else {
		s.rep.Raw["disk_group_64k"] = r
		s.rep.Add(sec, "disk.group64k.syncs_per_sec", "disk: 64 KiB group commits", r.SyncsPerS, "syncs/s")
		s.rep.Add(sec, "disk.group64k.mb_per_sec", "disk: 64 KiB group commits, throughput", r.MBPerS, "MB/s")
		f := s.rep.Add(sec, "disk.group64k.msg_per_sec", "disk: 64 KiB group commits, as 1 KiB msg/s", r.MBPerS*1e6/float64(s.plan.Size), "msg/s")
		f.Note = "the durable-publish limit of one disk"
		s.rep.Add(sec, "disk.group64k.p99_ms", "disk: 64 KiB group commit, p99", r.Latency.P99Ms, "ms")
	}
	for _, size := range []int{64 * 1024, 1024} {
		if ctx.Err() != nil {
			return
		}
		s.progress("limits: loopback TCP, one stream, %d-byte writes, for %s", size, s.plan.Loopback)
		r, err := limits.Loopback(size, s.plan.Loopback)
		if err != nil {
			s.rep.Error("limits: loopback", err)
			continue
		}
		if size == 1024 {
			s.rep.Raw["loopback_1k"] = r
			s.rep.Add(sec, "loopback.1k.mb_per_sec", "loopback TCP, one stream, 1 KiB writes", r.MBPerS, "MB/s")
		} else {
			s.rep.Raw["loopback_64k"] = r
			s.rep.Add(sec, "loopback.64k.mb_per_sec", "loopback TCP, one stream, 64 KiB writes", r.MBPerS, "MB/s")
		}
	}
}
