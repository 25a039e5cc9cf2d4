package autorecovery

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the worker's Prometheus series (docs/metrics.md). Every candidate
// exports them; only the active one moves them.
type metrics struct {
	underReplicated     prometheus.Gauge
	fragmentsReplicated prometheus.Counter
	entriesLost         prometheus.Counter
	active              prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		underReplicated: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookie_autorecovery_under_replicated_ledgers",
			Help: "Ledgers with a fragment on a bookie that is not registered, at the active worker's last audit (0 on standby candidates).",
		}),
		fragmentsReplicated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookie_autorecovery_fragments_replicated_total",
			Help: "Ledger fragments copied to a replacement bookie and switched to it in the ledger's metadata.",
		}),
		entriesLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookie_autorecovery_entries_lost_total",
			Help: "Entries found on no surviving replica while re-replicating (each counted once per worker process).",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookie_autorecovery_active",
			Help: "1 while this process is the elected auto-recovery worker, else 0.",
		}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.underReplicated, m.fragmentsReplicated, m.entriesLost, m.active}
}

// register adds the collectors to reg; on failure none stays registered.
func (m *metrics) register(reg prometheus.Registerer) error {
	var done []prometheus.Collector
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, d := range done {
				reg.Unregister(d)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return errors.New("autorecovery: metrics already registered (one worker per registry)")
			}
			return err
		}
		done = append(done, c)
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}
