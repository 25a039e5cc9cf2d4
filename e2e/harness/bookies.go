package harness

import (
	"fmt"
	"path/filepath"
	"testing"
)

// Bookie is a `strata bookie` OS process with a stable id and data dir, so that it can
// be killed and restarted as the same bookie.
type Bookie struct {
	*Process
	ID      string
	DataDir string
}

// StartBookie runs `strata bookie` against etcd with a fresh data dir under dir.
func StartBookie(t testing.TB, etcd, dir, id string, extra ...string) *Bookie {
	t.Helper()
	dataDir := filepath.Join(dir, id)
	args := append([]string{"bookie",
		"--etcd", etcd,
		"--id", id,
		"--data-dir", dataDir,
		"--listen", "127.0.0.1:0",
	}, extra...)
	p := Start(t, ProcessConfig{Name: id, Args: args, Ready: "listening on", LogDir: dir})
	return &Bookie{Process: p, ID: id, DataDir: dataDir}
}

// StartBookies runs n bookies named bookie-1..bookie-n.
func StartBookies(t testing.TB, etcd, dir string, n int) []*Bookie {
	t.Helper()
	out := make([]*Bookie, n)
	for i := range out {
		out[i] = StartBookie(t, etcd, dir, fmt.Sprintf("bookie-%d", i+1))
	}
	return out
}
