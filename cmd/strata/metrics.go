package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// newRegistry is the Prometheus registry of one strata process: the broker's and
// bookie's collectors register with it, and their HTTP servers serve it on /metrics.
// The Go runtime and process series (go_*, process_*) come with it, as the JVM's do
// with Pulsar.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
