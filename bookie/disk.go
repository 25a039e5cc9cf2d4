package bookie

import (
	"context"
	"fmt"
	"math"
	"syscall"
	"time"
)

// statfsUsage is the used fraction of the file system holding dir, as df computes it:
// used / (used + available to unprivileged users).
func statfsUsage(dir string) (float64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("bookie: statfs %s: %w", dir, err)
	}
	used := float64(st.Blocks-st.Bfree) * float64(st.Bsize)
	avail := float64(st.Bavail) * float64(st.Bsize)
	if used+avail == 0 {
		return 0, nil
	}
	return used / (used + avail), nil
}

// diskMonitor checks the disk every DiskCheckInterval until ctx ends.
func (b *Bookie) diskMonitor(ctx context.Context) {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.DiskCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.checkDisk()
		}
	}
}

// checkDisk measures the disk and moves between read-write and read-only with
// hysteresis: into read-only at the threshold, out of it only below the low-water mark.
// It reports whether the mode changed. Only the disk monitor calls it (and Start, before
// the monitor runs).
func (b *Bookie) checkDisk() bool {
	usage, err := b.cfg.DiskUsage(b.cfg.DataDir)
	if err != nil {
		b.log.Warn("bookie: disk usage check failed; keeping the current mode", "err", err)
		return false
	}
	b.diskUsage.Store(math.Float64bits(usage))
	ro := b.srv.ReadOnly()
	next := ro
	switch {
	case b.cfg.ForceReadOnly:
		next = true
	case !ro && usage >= b.cfg.DiskUsageThreshold:
		next = true
	case ro && usage < b.cfg.DiskUsageLowWater:
		next = false
	}
	if next == ro {
		return false
	}
	b.srv.SetReadOnly(next)
	if next {
		b.log.Warn("bookie: disk usage over threshold; now read-only", "usage", usage, "threshold", b.cfg.DiskUsageThreshold)
	} else {
		b.log.Info("bookie: disk usage below low-water mark; read-write again", "usage", usage, "lowWater", b.cfg.DiskUsageLowWater)
	}
	select {
	case b.modeChanged <- struct{}{}:
	default: // the registrar has a change pending already; it reads the current mode
	}
	return true
}

// DiskUsage is the used fraction of the data dir's file system at the last check.
func (b *Bookie) DiskUsage() float64 { return math.Float64frombits(b.diskUsage.Load()) }
