package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// ackedLog records what the producers were told is stored.
type ackedLog struct {
	mu    sync.Mutex
	acked map[string]bool
	errs  map[string]int
	count counter // distinct payloads acknowledged
}

func (l *ackedLog) done(payload string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs[err.Error()]++
		return
	}
	if !l.acked[payload] {
		l.acked[payload] = true
		l.count.add(1)
	}
}

// TestDurabilityKillWhileProducing: SIGKILL standalone while several producers send
// asynchronously with batching on. Every message whose send was acknowledged before or
// after the kill is in the topic after the restart: a consumer from Earliest receives
// them all. Messages resent by the client after the restart may appear twice (they were
// stored but not acknowledged before the kill); the test reports how many.
func TestDurabilityKillWhileProducing(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	ctx := testCtx(t)
	topic := uniqueTopic(t)
	c := newClient(t, s.PulsarURL)

	// The subscription that checks the result exists from the start and acknowledges
	// nothing until the end, so it holds every entry (a ledger every subscription has
	// consumed may be deleted, and "live" below consumes everything).
	check := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "check",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	check.Close()

	// A consumer stays subscribed through the kill, acknowledging what it receives: it
	// reconnects by itself and must end up with every acknowledged message too (acks it
	// sent within the last flush interval before the kill may bring duplicates).
	live := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "live", Type: pulsar.Shared,
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	liveCtx, stopLive := context.WithCancel(ctx)
	liveDone := make(chan struct{})
	var liveMu sync.Mutex
	liveSeen := map[string]int{}
	liveProgress := make(chan struct{}, 1)
	go func() {
		defer close(liveDone)
		for {
			m, err := live.Receive(liveCtx)
			if err != nil {
				return
			}
			liveMu.Lock()
			liveSeen[string(m.Payload())]++
			liveMu.Unlock()
			select {
			case liveProgress <- struct{}{}:
			default:
			}
			live.Ack(m)
		}
	}()

	log := &ackedLog{acked: map[string]bool{}, errs: map[string]int{}}
	const producers = 3
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	var prods []pulsar.Producer
	for i := 0; i < producers; i++ {
		p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: fmt.Sprintf("p%d", i),
			BatchingMaxPublishDelay: 5 * time.Millisecond, BatchingMaxMessages: 50, SendTimeout: 60 * time.Second})
		prods = append(prods, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				payload := fmt.Sprintf("p%d-%d", i, seq)
				sent.Add(1)
				p.SendAsync(ctx, &pulsar.ProducerMessage{Payload: []byte(payload)},
					func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { log.done(payload, err) })
			}
		}()
	}

	log.count.waitFor(ctx, t, 3000, "sends acknowledged")
	s.Kill() // SIGKILL mid-stream: sends are in flight on every producer
	atKill := log.count.load()
	s.Restart()
	// The producers reconnect and resend what was pending; wait until sends are being
	// acknowledged again.
	log.count.waitFor(ctx, t, atKill+2000, "sends acknowledged")
	close(stop)
	wg.Wait()
	for _, p := range prods {
		if err := p.FlushWithCtx(ctx); err != nil {
			t.Logf("flush: %v", err)
		}
		p.Close()
	}

	log.mu.Lock()
	want := make(map[string]bool, len(log.acked))
	for k := range log.acked {
		want[k] = true
	}
	errs := log.errs
	log.mu.Unlock()
	t.Logf("sent %d, acknowledged %d (%d before the kill), failed %v", sent.Load(), len(want), atKill, errs)

	c2 := newClient(t, s.PulsarURL)
	cons := subscribe(t, c2, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "check"})
	seen := map[string]int{}
	missing := len(want)
	dups, unackedStored := 0, 0
	for missing > 0 {
		rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
		m, err := cons.Receive(rctx)
		rcancel()
		if err != nil {
			var lost []string
			for k := range want {
				if seen[k] == 0 {
					lost = append(lost, k)
					if len(lost) == 10 {
						break
					}
				}
			}
			t.Fatalf("%d acknowledged messages never arrived (%v), e.g. %v", missing, err, lost)
		}
		pl := string(m.Payload())
		seen[pl]++
		switch {
		case seen[pl] > 1:
			dups++
		case want[pl]:
			missing--
		default:
			unackedStored++
		}
		cons.Ack(m)
	}
	t.Logf("every acknowledged message is stored; %d duplicates (resent after the kill), %d stored but never acknowledged so far",
		dups, unackedStored)

	// The consumer that lived through the kill has everything by now, or will shortly:
	// it reads the same log behind the new subscription.
	liveMissing := func() []string {
		liveMu.Lock()
		defer liveMu.Unlock()
		var out []string
		for k := range want {
			if liveSeen[k] == 0 {
				out = append(out, k)
			}
		}
		return out
	}
	waitLive, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	for miss := liveMissing(); len(miss) > 0; miss = liveMissing() {
		select {
		case <-liveProgress:
		case <-waitLive.Done():
			t.Fatalf("the consumer subscribed through the kill never received %d acknowledged messages, e.g. %v",
				len(miss), miss[:min(10, len(miss))])
		}
	}
	stopLive()
	<-liveDone
	liveMu.Lock()
	liveDups := 0
	for _, k := range liveSeen {
		liveDups += k - 1
	}
	liveMu.Unlock()
	t.Logf("the consumer subscribed through the kill received every acknowledged message; %d duplicates", liveDups)
}
