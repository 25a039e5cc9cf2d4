package perf

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// ProduceConfig configures a produce run. Zero values of the optional fields take the
// defaults of `strata perf produce`.
type ProduceConfig struct {
	Common
	Topic string
	// Rate is messages a second over all producers; 0 sends as fast as the producers'
	// pending queues allow.
	Rate float64
	// Size of each payload in bytes; 16 or more carries the send-time stamp.
	Size int
	// Duration is the measured time, after Warmup: a run lasts Warmup + Duration, or
	// until Messages have been sent. 0 means no time limit (Messages must be set).
	Duration time.Duration
	Warmup   time.Duration
	// Messages stops the run after that many sends, warm-up included; 0 means no limit.
	Messages uint64
	// Producers on each topic, all sharing one client connection; Rate is split evenly
	// over every producer of every topic.
	Producers int
	// Topics spreads the load over that many topics, named Topic-0 … Topic-(Topics-1)
	// (see TopicName); 0 or 1 uses Topic itself.
	Topics           int
	Batching         bool
	BatchMaxDelay    time.Duration
	BatchMaxMessages int
	BatchMaxBytes    int
	// MaxPending bounds each producer's messages awaiting a receipt; SendAsync blocks
	// when it is reached.
	MaxPending int
	// AckWait bounds the wait for outstanding receipts after sending stops.
	AckWait time.Duration
}

// Validate checks c and fills in defaults.
func (c *ProduceConfig) Validate() error {
	if err := c.Common.validate(); err != nil {
		return err
	}
	if c.Topic == "" {
		return errors.New("perf: no topic")
	}
	if c.Rate < 0 {
		return errors.New("perf: negative rate")
	}
	if c.Size <= 0 {
		return errors.New("perf: message size must be positive")
	}
	if c.Duration < 0 || (c.Duration == 0 && c.Messages == 0) {
		return errors.New("perf: produce needs a positive duration or a message count")
	}
	if c.Producers <= 0 {
		c.Producers = 1
	}
	if c.Topics <= 0 {
		c.Topics = 1
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1000
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	return nil
}

// TopicName is the i-th topic of a run over c.Topics topics: Topic itself when there is
// one, else Topic-i.
func (c *ProduceConfig) TopicName(i int) string {
	if c.Topics <= 1 {
		return c.Topic
	}
	return fmt.Sprintf("%s-%d", c.Topic, i)
}

// openConcurrency bounds the producers being created at once on a many-topic run: each
// costs the broker a lookup and, for a new topic, a managed ledger.
const openConcurrency = 32

// ProduceSummary is the result of a produce run, excluding warm-up.
type ProduceSummary struct {
	Mode string   `json:"mode"`
	Args []string `json:"args,omitempty"`
	// TargetRate is the configured rate (0: unthrottled).
	TargetRate float64 `json:"target_rate"`
	Size       int     `json:"size"`
	Topics     int     `json:"topics"`
	Producers  int     `json:"producers"` // per topic
	Batching   bool    `json:"batching"`
	// Sent counts SendAsync calls after warm-up; Acked the receipts for them, over the time
	// from the end of warm-up to the last such receipt.
	Sent       uint64     `json:"sent"`
	Acked      Throughput `json:"acked"`
	Errors     uint64     `json:"errors"`
	FirstError string     `json:"first_error,omitempty"`
	// Unacked were still awaiting a receipt when the run stopped waiting.
	Unacked uint64 `json:"unacked"`
	// RateDropped counts paced sends that fell so far behind schedule (SendAsync blocked
	// on a full queue) that the pacer dropped them: the target rate was not offered.
	RateDropped int64 `json:"rate_dropped"`
	// PublishLatency is per message, from the SendAsync call to its callback.
	PublishLatency Latency `json:"publish_latency"`
}

func (s *ProduceSummary) print(c *Common) {
	fmt.Fprintf(c.Out, "produce summary (%.1fs after warm-up): sent %d, acked %d, %s, errors %d, unacked %d",
		s.Acked.Seconds, s.Sent, s.Acked.Messages, s.Acked, s.Errors, s.Unacked)
	if s.RateDropped > 0 {
		fmt.Fprintf(c.Out, ", rate shortfall %d msgs", s.RateDropped)
	}
	fmt.Fprintf(c.Out, "\n  publish latency: %s (mean %s ms)\n", s.PublishLatency, fmtMs(s.PublishLatency.MeanMs))
	if s.FirstError != "" {
		fmt.Fprintf(c.Out, "  first error: %s\n", s.FirstError)
	}
}

// stopAt returns when a run that starts at start stops sending, at the latest.
func (c *ProduceConfig) stopAt(start time.Time) time.Time {
	if c.Duration == 0 {
		return start.Add(100 * 365 * 24 * time.Hour) // Messages ends the run
	}
	return start.Add(c.Warmup + c.Duration)
}

// producerLoad drives cfg.Producers producers and records their publish latencies.
type producerLoad struct {
	cfg       *ProduceConfig
	producers []pulsar.Producer
	payloads  *payloadPool
	pool      sync.Pool // *[]byte payloads, returned in the send callback

	rec    recorder
	series *series // nil unless asked for
	// sent/done count SendAsync calls and their callbacks, acked the successful ones;
	// sentMeasured counts sends after warm-up.
	sent, done, acked, sentMeasured atomic.Uint64
	dropped                         atomic.Int64
	inflight                        sync.WaitGroup
}

func newProducerLoad(cfg *ProduceConfig) *producerLoad {
	l := &producerLoad{cfg: cfg, payloads: newPayloadPool(cfg.Size)}
	l.pool.New = func() any { b := make([]byte, cfg.Size); return &b }
	return l
}

func (l *producerLoad) open(client pulsar.Client) error {
	c := l.cfg
	n := c.Topics * c.Producers
	l.producers = make([]pulsar.Producer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, openConcurrency)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			topic := c.TopicName(i / c.Producers)
			p, err := client.CreateProducer(pulsar.ProducerOptions{
				Topic:                   topic,
				DisableBatching:         !c.Batching,
				BatchingMaxPublishDelay: c.BatchMaxDelay,
				BatchingMaxMessages:     uint(c.BatchMaxMessages),
				BatchingMaxSize:         uint(c.BatchMaxBytes),
				MaxPendingMessages:      c.MaxPending,
			})
			if err != nil {
				errs[i] = fmt.Errorf("perf: producer %d on %s: %w", i%c.Producers, topic, err)
				return
			}
			l.producers[i] = p
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		l.close()
		return err
	}
	return nil
}

func (l *producerLoad) close() {
	for _, p := range l.producers {
		if p != nil {
			p.Close()
		}
	}
}

// run sends from every producer until stopAt (or ctx ends), then flushes and waits up to
// AckWait for the outstanding receipts. It returns when that is done.
func (l *producerLoad) run(ctx context.Context, warmupEnd, stopAt time.Time) {
	var senders sync.WaitGroup
	n := len(l.producers)
	for i, p := range l.producers {
		senders.Go(func() {
			var pacer *Pacer
			if l.cfg.Rate > 0 {
				r := l.cfg.Rate / float64(n)
				// Spread the producers' schedules evenly over one interval, so that many
				// slow producers (1,000 topics at 10 msg/s) do not send in lockstep bursts.
				if n > 1 && sleepCtx(ctx, time.Duration(float64(i)/float64(n)*float64(time.Second)/r)) != nil {
					return
				}
				// A bucket of 10 ms of sends (at least 1) absorbs timer oversleep; see Pacer.
				pacer = NewPacer(r, int(r/100))
			}
			l.send(ctx, p, pacer, warmupEnd, stopAt)
		})
	}
	senders.Wait()

	fctx, cancel := context.WithTimeout(context.Background(), l.cfg.AckWait)
	defer cancel()
	for _, p := range l.producers {
		_ = p.FlushWithCtx(fctx) // errors reach the callbacks too
	}
	acked := make(chan struct{})
	go func() { l.inflight.Wait(); close(acked) }()
	select {
	case <-acked:
	case <-fctx.Done():
	}
}

func (l *producerLoad) send(ctx context.Context, p pulsar.Producer, pacer *Pacer, warmupEnd, stopAt time.Time) {
	size := l.cfg.Size
	for ctx.Err() == nil {
		if pacer != nil {
			if pacer.Wait(ctx) != nil {
				break
			}
		}
		t0 := time.Now()
		if !t0.Before(stopAt) {
			break
		}
		n := l.sent.Add(1)
		if l.cfg.Messages > 0 && n > l.cfg.Messages {
			l.sent.Add(^uint64(0)) // not sent after all
			break
		}
		bp := l.pool.Get().(*[]byte)
		l.payloads.fill(*bp, n, t0)
		measured := !t0.Before(warmupEnd)
		if measured {
			l.sentMeasured.Add(1)
		}
		l.inflight.Add(1)
		// The context bounds only the SendAsync call (which blocks on a full queue), not the
		// message; Background lets a blocked call finish when receipts free the queue.
		p.SendAsync(context.Background(), &pulsar.ProducerMessage{Payload: *bp},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				now := time.Now()
				if err != nil {
					l.rec.fail(err, measured)
				} else {
					l.rec.record(now, now.Sub(t0), size, measured)
					l.series.add(t0, now.Sub(t0))
					l.acked.Add(1)
				}
				l.pool.Put(bp)
				l.done.Add(1)
				l.inflight.Done()
			})
	}
	if pacer != nil {
		l.dropped.Add(pacer.Dropped())
	}
}

// progress formats the producer's part of a progress line for the interval w.
func (l *producerLoad) progress(w window, span time.Duration) string {
	t := throughput(w.msgs, w.bytes, span)
	return fmt.Sprintf("pub %s  %s  err %d  pending %d",
		t, summarize(&w.hist), w.errors, l.sent.Load()-l.done.Load())
}

func (l *producerLoad) summary(warmupEnd time.Time) ProduceSummary {
	tot, firstErr := l.rec.totals()
	c := l.cfg
	s := ProduceSummary{
		Mode:           "produce",
		Args:           c.Args,
		TargetRate:     c.Rate,
		Size:           c.Size,
		Topics:         c.Topics,
		Producers:      c.Producers,
		Batching:       c.Batching,
		Sent:           l.sentMeasured.Load(),
		Acked:          throughput(tot.msgs, tot.bytes, tot.last.Sub(warmupEnd)),
		Errors:         tot.errors,
		Unacked:        l.sent.Load() - l.done.Load(),
		RateDropped:    l.dropped.Load(),
		PublishLatency: summarize(&tot.hist),
	}
	if firstErr != nil {
		s.FirstError = firstErr.Error()
	}
	return s
}

// Produce runs a produce load against cfg.URL and returns its summary, having printed
// progress lines and the summary to cfg.Out.
func Produce(ctx context.Context, cfg ProduceConfig) (ProduceSummary, error) {
	if err := cfg.Validate(); err != nil {
		return ProduceSummary{}, err
	}
	client, err := cfg.newClient()
	if err != nil {
		return ProduceSummary{}, err
	}
	defer client.Close()
	l := newProducerLoad(&cfg)
	if err := l.open(client); err != nil {
		return ProduceSummary{}, err
	}
	defer l.close()

	start := time.Now()
	warmupEnd, stopAt := start.Add(cfg.Warmup), cfg.stopAt(start)
	l.series = cfg.newSeries(start)
	done := make(chan struct{})
	go func() { defer close(done); l.run(ctx, warmupEnd, stopAt) }()
	every(cfg.Interval, done, func(now time.Time, span time.Duration) {
		progressPrefix(cfg.Out, now.Sub(start), now.Before(warmupEnd.Add(cfg.Interval)) && cfg.Warmup > 0)
		fmt.Fprintln(cfg.Out, l.progress(l.rec.takeInterval(), span))
	})
	s := l.summary(warmupEnd)
	s.print(&cfg.Common)
	if l.series != nil {
		if err := writeSeries(cfg.SeriesPath, []string{"pub"}, []*series{l.series}); err != nil {
			return s, fmt.Errorf("perf: --series: %w", err)
		}
	}
	return s, nil
}

// every calls f at each interval until done is closed, with the time and the span since
// the previous call. interval 0 only waits for done.
func every(interval time.Duration, done <-chan struct{}, f func(now time.Time, span time.Duration)) {
	if interval <= 0 {
		<-done
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	prev := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			f(now, now.Sub(prev))
			prev = now
		}
	}
}
