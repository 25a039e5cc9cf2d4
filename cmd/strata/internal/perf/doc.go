// Package perf is the engine of `strata perf`: a load generator for any Pulsar-protocol
// broker, built on the official Go client (github.com/apache/pulsar-client-go).
//
// Three runs share it:
//
//   - Produce sends fixed-size messages with SendAsync, paced by a Pacer (a token bucket on
//     the monotonic clock) or unthrottled, and records each message's publish latency: the
//     time from the SendAsync call to its callback.
//   - Consume receives and acknowledges, and records end-to-end latency: the receive time
//     minus the time the producer stamped into the payload (see Stamp), or, for payloads
//     that carry no stamp, minus the message's publish_time (millisecond resolution).
//     With --initial earliest and a backlog it measures the catch-up read rate.
//   - E2E runs a tailing consumer and a paced producer in one process and reports both
//     latencies side by side.
//   - Idle subscribes once to each of many topics (creating the topics and a durable
//     subscription on each), then holds the consumers connected and idle, so that a
//     broker's memory per idle topic can be measured from outside.
//
// Produce can spread its load over many topics (ProduceConfig.Topics), one or more
// producers each, their pacers' schedules staggered over one interval so that a thousand
// slow producers do not send in lockstep.
//
// Latencies go into a Histogram: log-linear buckets (128 per power of two, so any value
// is reported within 0.8% of what was recorded), like HdrHistogram with two significant
// digits, in a fixed 58 KiB array. Recording is one bucket increment; a run keeps one
// histogram for the whole measurement and one for the current reporting interval.
//
// --series writes a CSV time series (per 100 ms of send time: count, mean and max
// latency) for lining latency spikes up with events in the broker or on the disk.
//
// Warm-up: messages sent before the warm-up ends are sent, acknowledged and consumed like
// any other, but they are left out of the summary (counts, rates and percentiles). The
// 5-second progress lines include them and say so.
//
// Nothing here starts a goroutine that outlives the run that started it.
package perf
