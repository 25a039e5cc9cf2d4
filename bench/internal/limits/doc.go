// Package limits measures what the machine allows, so that the benchmark can put each
// figure next to the limit it runs into:
//
//   - the data disk's synced-append rate and latency: 1 KiB records, each written and
//     then fdatasync'ed on its own, as a log that acknowledges one message at a time must;
//   - the disk's group-commit throughput: 64 KiB written per fdatasync, as a log that
//     commits whatever has arrived in one synced batch;
//   - loopback TCP throughput, one stream, with large and with 1 KiB writes.
//
// Each runs for a fixed time in the calling goroutine (the loopback test adds one
// goroutine for the reader, gone when it returns) and reports rates and latency
// percentiles computed from every sample.
package limits
