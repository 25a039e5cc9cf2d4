// Package strata runs Strata for the benchmark: a `strata standalone` process, or a
// local cluster (an etcd embedded in the driver, three `strata bookie` processes and one
// `strata broker` with E=3, Qw=2, Qa=2), and `strata perf` runs against either, whose
// --json summaries it decodes.
//
// The summary types mirror the JSON that cmd/strata/internal/perf writes (that package is
// internal to the command); fields the benchmark does not use are left out.
package strata
