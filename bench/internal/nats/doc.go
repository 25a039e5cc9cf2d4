// Package nats runs the benchmark's peer, NATS JetStream, the way its authors benchmark
// it: a single nats-server on loopback with file storage, and its own load tool, `nats
// bench` from natscli, publishing 1 KiB messages to an R1 stream.
//
// Durability is made equal to Strata's with `sync_interval: always` in the server's
// jetstream block: the server then fsyncs each message (each atomic batch) before it
// acknowledges. Its default (a sync every two minutes) acknowledges before data is on
// disk; figures taken with it are labelled "not durable".
//
// Both programs are built from source at pinned versions into a directory of the
// caller's (see Install), and the tool's text output is parsed by ParseBench.
package nats
