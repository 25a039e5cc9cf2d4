package service

import (
	"context"
	"sync"
	"time"
)

// Rates (msgRateIn/Out, msgThroughputIn/Out in the stats) are per-second rates over a
// rolling window, as Pulsar's per-interval rates: every RateSampleInterval a goroutine
// started by EnforcePolicies samples the counters of each open topic, producer, subscription and consumer
// (sampleRates), and a rate is the counter's growth from the oldest kept sample to now
// divided by the time between them: with rateSamples kept, a window of 4–5 s.

// RateSampleInterval is how often the counters are sampled.
const RateSampleInterval = time.Second

// rateSamples is how many samples a window keeps.
const rateSamples = 5

type rateSample struct {
	at          time.Time
	msgs, bytes int64
}

// rateWindow keeps the recent samples of a message and a byte counter. The zero value
// is ready: before the first sample it reports 0.
type rateWindow struct {
	mu      sync.Mutex
	samples []rateSample // oldest first
}

// sample records the counters' values at now.
func (w *rateWindow) sample(now time.Time, msgs, bytes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.samples) == rateSamples {
		copy(w.samples, w.samples[1:])
		w.samples = w.samples[:rateSamples-1]
	}
	w.samples = append(w.samples, rateSample{at: now, msgs: msgs, bytes: bytes})
}

// rates returns messages and bytes per second from the oldest sample to now, when the
// counters read msgs and bytes.
func (w *rateWindow) rates(now time.Time, msgs, bytes int64) (msgRate, byteRate float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.samples) == 0 {
		return 0, 0
	}
	old := w.samples[0]
	dt := now.Sub(old.at).Seconds()
	if dt < 0.1 { // too short a span to mean anything
		return 0, 0
	}
	return max(0, float64(msgs-old.msgs)/dt), max(0, float64(bytes-old.bytes)/dt)
}

// sampleRates samples the counters of the topic, its producers, subscriptions and
// consumers.
func (t *Topic) sampleRates(now time.Time) {
	t.rateIn.sample(now, t.MsgsIn.Load(), t.BytesIn.Load())
	t.rateOut.sample(now, t.MsgsOut.Load(), t.BytesOut.Load())
	for _, p := range t.Producers() {
		p.rateIn.sample(now, p.MsgsIn.Load(), p.BytesIn.Load())
	}
	for _, s := range t.Subscriptions() {
		s.rateOut.sample(now, s.MsgsOut.Load(), s.BytesOut.Load())
		s.post(func() { // no wait: the consumers are the subscription goroutine's
			for _, c := range s.consumers {
				c.rateOut.sample(now, c.MsgsOut.Load(), c.BytesOut.Load())
			}
		})
	}
}

// sampleRatesLoop samples every open topic's counters each RateSampleInterval until ctx
// ends.
func (s *Service) sampleRatesLoop(ctx context.Context) {
	tick := time.NewTicker(RateSampleInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, t := range s.LoadedTopics() {
				t.sampleRates(now)
			}
		}
	}
}
