package queuecheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// ProducerConfig configures a Producer runner.
type ProducerConfig struct {
	Client pulsar.Client // required
	Topic  string        // required
	// Name is the producer id written into every payload (no spaces; required). It is
	// not the Pulsar producer name, which the broker assigns.
	Name  string
	Sends *Sends // where attempts and outcomes are recorded (required)
	// Rate is the target number of sends a second; 0 sends as fast as MaxPending
	// allows.
	Rate float64
	// MaxPending bounds the sends without an outcome; default 100, at most
	// Options.MaxPendingMessages (the client's queue; 1,000 by default).
	MaxPending int
	// PayloadSize is the size of each payload in bytes (never below its header);
	// default 128.
	PayloadSize int
	// Seed seeds the payloads' padding.
	Seed uint64
	// Options is the template of the Pulsar producer (batching, send timeout...);
	// its Topic is replaced by Topic.
	Options pulsar.ProducerOptions
}

// Producer keeps sending to one topic at a target rate until stopped, recording
// every attempt and its outcome in a Sends. A failed send is recorded and not
// retried as such: the next send is a new message with the next sequence number
// (a retry with the same payload could be stored twice and hide a loss as a
// duplicate). If the Pulsar producer is closed under it (fenced, topic terminated,
// client-side close after an error), the runner makes a new one, retrying until
// stopped; sends wait meanwhile.
//
// One goroutine issues the sends; the Pulsar client's callbacks record outcomes.
type Producer struct {
	t      testing.TB
	cfg    ProducerConfig
	cancel context.CancelFunc // ends the send loop (its pacing and waits for a slot)
	// sendCtx is what SendAsync gets. It is not the loop's context: a send issued as
	// Stop begins must not fail for that (the client fails a send whose context is
	// done), so Stop cancels it only if the loop is stuck in SendAsync past Stop's ctx.
	sendCtx    context.Context
	cancelSend context.CancelFunc
	loop       chan struct{}  // closed when the send loop has returned
	slots      chan struct{}  // one token per send in flight
	inner      sync.WaitGroup // one per send whose callback has not run

	mu sync.Mutex
	// Invariant: prod is the producer the loop sends on; reopen is set by a callback
	// that saw it closed, and cleared by the loop once it made a new one.
	prod    pulsar.Producer
	reopen  bool
	olds    []pulsar.Producer // replaced producers, closed by Stop
	stopped bool
}

// StartProducer creates the Pulsar producer (failing the test if that fails) and
// starts sending. Stop is registered as a test cleanup.
func StartProducer(t testing.TB, cfg ProducerConfig) *Producer {
	t.Helper()
	if cfg.Client == nil || cfg.Topic == "" || cfg.Sends == nil {
		t.Fatal("queuecheck: producer needs a client, a topic and a Sends")
	}
	if !validProducer(cfg.Name) {
		t.Fatalf("queuecheck: producer id %q must be non-empty and without spaces", cfg.Name)
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100
	}
	if q := cfg.Options.MaxPendingMessages; q > 0 && cfg.MaxPending > q {
		// More would block SendAsync on the client's queue, where Stop cannot reach.
		cfg.MaxPending = q
	}
	if cfg.PayloadSize <= 0 {
		cfg.PayloadSize = 128
	}
	cfg.Options.Topic = cfg.Topic
	prod, err := cfg.Client.CreateProducer(cfg.Options)
	if err != nil {
		t.Fatalf("queuecheck: producer %s on %s: %v", cfg.Name, cfg.Topic, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sendCtx, cancelSend := context.WithCancel(context.Background())
	p := &Producer{t: t, cfg: cfg, cancel: cancel, sendCtx: sendCtx, cancelSend: cancelSend,
		loop: make(chan struct{}), slots: make(chan struct{}, cfg.MaxPending), prod: prod}
	go p.run(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("queuecheck: stop producer %s: %v", cfg.Name, err)
		}
	})
	return p
}

func (p *Producer) run(ctx context.Context) {
	defer close(p.loop)
	rng := rand.New(rand.NewPCG(p.cfg.Seed, checksum([]byte(p.cfg.Name))))
	var interval time.Duration
	if p.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / p.cfg.Rate)
	}
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for seq := uint64(0); ; seq++ {
		if interval > 0 {
			// Pace against the start, so that the rate holds on average; after a stall
			// (a fault held sends back) restart the schedule rather than burst.
			due := start.Add(time.Duration(seq) * interval)
			if time.Since(due) > time.Second {
				due = time.Now()
				start = due.Add(-time.Duration(seq) * interval)
			}
			timer.Reset(time.Until(due))
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		prod, ok := p.producer(ctx)
		if !ok {
			<-p.slots
			return
		}
		id := ID{Producer: p.cfg.Name, Seq: seq}
		payload := Payload(id, p.cfg.PayloadSize, rng)
		p.cfg.Sends.Attempt(id, payload)
		p.inner.Add(1)
		prod.SendAsync(p.sendCtx, &pulsar.ProducerMessage{Payload: payload},
			func(mid pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				defer p.inner.Done()
				defer func() { <-p.slots }()
				if err != nil {
					p.cfg.Sends.Fail(id, err)
					if errors.Is(err, pulsar.ErrProducerClosed) {
						p.mu.Lock()
						p.reopen = p.reopen || p.prod == prod
						p.mu.Unlock()
					}
					return
				}
				p.cfg.Sends.AckAt(id, mid.LedgerID(), mid.EntryID())
			})
	}
}

// producer returns the producer to send on, making a new one first if the current
// one was closed; it retries with backoff until ctx ends (ok false). A CreateProducer
// call itself is bounded by the client's operation timeout, not by ctx.
func (p *Producer) producer(ctx context.Context) (pulsar.Producer, bool) {
	p.mu.Lock()
	prod, reopen := p.prod, p.reopen
	p.mu.Unlock()
	if !reopen {
		return prod, true
	}
	backoff := 100 * time.Millisecond
	for {
		np, err := p.cfg.Client.CreateProducer(p.cfg.Options)
		if err == nil {
			p.mu.Lock()
			p.olds = append(p.olds, p.prod)
			p.prod, p.reopen = np, false
			p.mu.Unlock()
			return np, true
		}
		p.t.Logf("queuecheck: producer %s: create after close: %v; retrying", p.cfg.Name, err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, false
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Stop ends the sending, flushes, waits until every send has an outcome (the
// Pulsar client's send timeout bounds that), and closes the producer. It returns an
// error if ctx ended first; the close then fails the sends still without an outcome
// (those the client never calls back about stay Pending). Stop may be called more
// than once.
func (p *Producer) Stop(ctx context.Context) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	p.mu.Unlock()

	p.cancel()
	defer p.cancelSend()
	select {
	case <-p.loop:
	case <-ctx.Done():
		p.cancelSend() // unblocks a SendAsync waiting for queue space
		<-p.loop
	}
	p.mu.Lock()
	prod, olds := p.prod, p.olds
	p.mu.Unlock()
	flushErr := prod.FlushWithCtx(ctx)
	outcomes := make(chan struct{})
	go func() { p.inner.Wait(); close(outcomes) }()
	var err error
	select {
	case <-outcomes:
	case <-ctx.Done():
		err = fmt.Errorf("sends without an outcome when stopping (flush: %v): %w", flushErr, ctx.Err())
	}
	for _, o := range olds {
		o.Close()
	}
	prod.Close() // fails what is still pending, so their callbacks run
	return err
}
