package strata

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/strata-io/strata/bench/internal/proc"
	"github.com/strata-io/strata/metadata"
)

// Deployment is a running Strata: where clients connect and the processes to measure.
type Deployment struct {
	Name      string
	PulsarURL string
	HTTPURL   string
	// Broker is the process that serves clients (the standalone process itself).
	Broker *proc.Process
	// Bookies are the cluster's bookie processes; none for a standalone.
	Bookies []*proc.Process
	etcd    *metadata.Embedded
	stop    sync.Once
}

// Logs opens (appending) the log file of one process under dir.
type Logs func(name string) io.Writer

// StartStandalone runs `strata standalone` with its data under dir.
func StartStandalone(ctx context.Context, bin, dir string, logs Logs) (*Deployment, error) {
	pa, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	ha, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(ctx, proc.Config{
		Name: "standalone", Bin: bin,
		Args:  []string{"standalone", "--data-dir", filepath.Join(dir, "data"), "--listen", pa, "--http", ha, "--log-level", "info"},
		Ready: "strata standalone ready", Log: logs("standalone"),
	})
	if err != nil {
		return nil, err
	}
	return &Deployment{Name: "standalone", PulsarURL: "pulsar://" + pa, HTTPURL: "http://" + ha, Broker: p}, nil
}

// ClusterConfig is the replication of the local cluster.
type ClusterConfig struct {
	Bookies                              int
	EnsembleSize, WriteQuorum, AckQuorum int
}

// StartCluster runs an embedded etcd (in this process), cfg.Bookies `strata bookie`
// processes and one `strata broker`, with their data under dir.
func StartCluster(ctx context.Context, bin, dir string, cfg ClusterConfig, logs Logs) (d *Deployment, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e, err := metadata.StartEmbedded(metadata.EmbeddedConfig{Dir: filepath.Join(dir, "etcd")})
	if err != nil {
		return nil, err
	}
	d = &Deployment{Name: "cluster", etcd: e}
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	for i := range cfg.Bookies {
		id := fmt.Sprintf("bookie-%d", i+1)
		b, err := proc.Start(ctx, proc.Config{
			Name: id, Bin: bin,
			Args: []string{"bookie", "--etcd", e.Endpoint(), "--id", id,
				"--data-dir", filepath.Join(dir, id), "--listen", "127.0.0.1:0", "--log-level", "warn"},
			Ready: "listening on", Log: logs(id),
		})
		if err != nil {
			return nil, err
		}
		d.Bookies = append(d.Bookies, b)
	}
	pa, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	ha, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	d.Broker, err = proc.Start(ctx, proc.Config{
		Name: "broker", Bin: bin,
		Args: []string{"broker", "--etcd", e.Endpoint(), "--listen", pa, "--http", ha,
			"--ensemble-size", fmt.Sprint(cfg.EnsembleSize), "--write-quorum", fmt.Sprint(cfg.WriteQuorum),
			"--ack-quorum", fmt.Sprint(cfg.AckQuorum), "--log-level", "info"},
		Ready: "broker listening on", Log: logs("broker"),
	})
	if err != nil {
		return nil, err
	}
	d.PulsarURL, d.HTTPURL = "pulsar://"+pa, "http://"+ha
	return d, nil
}

// Stop stops the broker, then the bookies, then etcd. Later calls do nothing.
func (d *Deployment) Stop() {
	d.stop.Do(func() {
		if d.Broker != nil {
			d.Broker.Stop(20 * time.Second)
		}
		for _, b := range d.Bookies {
			b.Stop(20 * time.Second)
		}
		if d.etcd != nil {
			d.etcd.Close()
		}
	})
}

// RSS is the resident memory of each process, broker first, in bytes.
func (d *Deployment) RSS() (broker int64, bookies []int64, err error) {
	if broker, err = proc.RSS(d.Broker.PID()); err != nil {
		return 0, nil, err
	}
	for _, b := range d.Bookies {
		r, err := proc.RSS(b.PID())
		if err != nil {
			return 0, nil, err
		}
		bookies = append(bookies, r)
	}
	return broker, bookies, nil
}
