// Package metrics exposes a broker's state as Prometheus series under Apache Pulsar's
// names and labels (cluster, namespace, topic, subscription), so that the dashboards
// written for Pulsar read Strata unchanged. docs/metrics.md lists every series.
//
// Three kinds of series:
//
//   - Topic and subscription gauges are computed at scrape time from the live topics
//     (a Source): counts of producers, consumers and subscriptions, backlogs, storage
//     size, the in/out counters, and rates derived from those counters.
//   - Tiered-storage counters (brk_ledgeroffloader_*, offload.go) are read at scrape
//     time from the managed-ledger Factory (Config.Offload), broker-wide.
//   - Publish latency is observed on the publish path (Collector.ObservePublish, wired
//     into service.Config.ObservePublish): a broker-wide summary and histogram, and
//     per-topic bucket counts for the topics loaded.
//
// Rates (pulsar_rate_in, pulsar_throughput_out, ...) are the change of a counter
// divided by the time between two scrapes, as Pulsar divides by its stats interval.
// A scrape sooner than Config.MinInterval after the last computation repeats the last
// figures instead of dividing by a tiny interval. A topic or subscription seen for the
// first time is taken to have had zero counts at the previous scrape (it was not
// loaded then). The pulsar_storage_write_latency_le_* buckets follow the same window:
// they count the publishes of that window, like Pulsar's per-interval buckets.
//
// Invariant: the collector's per-topic state is keyed by the topic's identity (the
// *service.Topic), not its name, so a topic unloaded and loaded again starts a fresh
// window instead of reporting a negative rate. A topic's latency buckets live from its
// load to its close (the Collector is a service.TopicHooks, hooks.go); the rate windows
// of topics and subscriptions gone from the snapshot are dropped at the next scrape.
package metrics
