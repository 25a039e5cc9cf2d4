package harness

import (
	"path/filepath"
	"testing"
)

// Standalone is a `strata standalone` OS process on random loopback ports.
type Standalone struct {
	*Process
	DataDir    string
	PulsarURL  string // pulsar://127.0.0.1:port
	HTTPURL    string // http://127.0.0.1:port
	pulsarAddr string
	httpAddr   string
}

// StartStandalone runs `strata standalone` with a data dir under dir.
func StartStandalone(t testing.TB, dir string, extra ...string) *Standalone {
	t.Helper()
	pa, ha := FreePort(t), FreePort(t)
	dataDir := filepath.Join(dir, "data")
	args := append([]string{"standalone", "--data-dir", dataDir, "--listen", pa, "--http", ha, "--log-level", "info"}, extra...)
	p := Start(t, ProcessConfig{Name: "standalone", Args: args, Ready: "strata standalone ready", LogDir: dir})
	return &Standalone{Process: p, DataDir: dataDir, PulsarURL: "pulsar://" + pa, HTTPURL: "http://" + ha, pulsarAddr: pa, httpAddr: ha}
}
