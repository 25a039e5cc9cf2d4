package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/spaolacci/murmur3"

	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/internal/testenv"
)

// keySharedTracker is the test's view of a Key_Shared subscription: which consumer holds
// unacknowledged messages of each key (a consumer releases a message in the tracker
// before it acks it, so the broker cannot have seen the ack while the tracker still
// counts it), every delivery, and per key the sequence numbers in delivery order.
type keySharedTracker struct {
	mu         sync.Mutex
	holder     map[string]string // key → consumer holding unacked messages of it
	held       map[string]int    // key → how many
	order      map[string][]int  // key → seqs in delivery order
	deliveries map[string]int    // payload → times delivered
	byConsumer map[string]int
	violations []string
	unique     counter // distinct messages delivered
}

func newKeySharedTracker() *keySharedTracker {
	return &keySharedTracker{holder: map[string]string{}, held: map[string]int{}, order: map[string][]int{},
		deliveries: map[string]int{}, byConsumer: map[string]int{}}
}

func (k *keySharedTracker) received(consumer string, m pulsar.Message) {
	key := m.Key()
	_, seqStr, _ := strings.Cut(string(m.Payload()), "/")
	seq, _ := strconv.Atoi(seqStr)
	k.mu.Lock()
	defer k.mu.Unlock()
	if h, ok := k.holder[key]; ok && h != consumer {
		k.violations = append(k.violations, fmt.Sprintf("%s received %q (key %s) while %s holds %d unacked messages of that key",
			consumer, m.Payload(), key, h, k.held[key]))
	}
	k.holder[key] = consumer
	k.held[key]++
	k.order[key] = append(k.order[key], seq)
	k.byConsumer[consumer]++
	k.deliveries[string(m.Payload())]++
	if k.deliveries[string(m.Payload())] == 1 {
		k.unique.add(1)
	}
}

func (k *keySharedTracker) released(m pulsar.Message) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key := m.Key()
	k.held[key]--
	if k.held[key] == 0 {
		delete(k.held, key)
		delete(k.holder, key)
	}
}

// TestSubscriptionKeySharedAutoSplitJoin: while keyed messages are produced without a
// pause, a second and then a third consumer join a Key_Shared AUTO_SPLIT subscription.
// At no time do two consumers hold unacknowledged messages of one key; every message is
// delivered exactly once; per key the delivery order is the produced order; and the
// joiners get a share.
func TestSubscriptionKeySharedAutoSplitJoin(t *testing.T) {
	const n = 3000
	byConsumer := runKeyShared(t, n, false, []keySharedStep{
		{at: n / 5, join: "c2"},
		{at: n / 2, join: "c3"},
	})
	for _, name := range []string{"c1", "c2", "c3"} {
		if byConsumer[name] == 0 {
			t.Fatalf("%s received nothing (%v)", name, byConsumer)
		}
	}
}

// TestSubscriptionKeySharedAutoSplitLeave: as above, and then consumers leave
// mid-stream (after acknowledging what they took): the messages they had been sent
// but had not taken go to whoever now serves their keys, ahead of later messages of
// those keys — still one holder per key, exactly once overall, in order per key.
func TestSubscriptionKeySharedAutoSplitLeave(t *testing.T) {
	const n = 3000
	byConsumer := runKeyShared(t, n, false, keySharedJoinLeave(n))
	for _, name := range []string{"c1", "c2", "c3", "c4"} {
		if byConsumer[name] == 0 {
			t.Fatalf("%s received nothing (%v)", name, byConsumer)
		}
	}
}

// TestSubscriptionKeySharedBatchedJoinLeave: the same joins and leaves with the
// producer's key-based batcher (one key per batch) and batch-index acks: a consumer
// that leaves mid-batch has acknowledged part of it, and the next consumer of that key
// gets only the rest of the batch (the redelivery's ack_set), in order.
func TestSubscriptionKeySharedBatchedJoinLeave(t *testing.T) {
	const n = 3000
	byConsumer := runKeyShared(t, n, true, keySharedJoinLeave(n))
	if byConsumer["c2"] == 0 || byConsumer["c4"] == 0 {
		t.Fatalf("a joining consumer received nothing (%v)", byConsumer)
	}
}

func keySharedJoinLeave(n int) []keySharedStep {
	return []keySharedStep{
		{at: n / 6, join: "c2"},
		{at: n / 3, join: "c3"},
		{at: n / 2, leave: "c1"},
		{at: 2 * n / 3, leave: "c3"},
		{at: 3 * n / 4, join: "c4"},
	}
}

// keySharedStep joins or removes a consumer once `at` messages have been delivered.
type keySharedStep struct {
	at          int
	join, leave string
}

// runKeyShared produces n keyed messages (32 keys; batched by key, or not) while consumer c1 and
// then the steps' consumers consume a Key_Shared AUTO_SPLIT subscription, each holding
// every message for a random 0–2 ms before acknowledging it, and checks the ordering
// contract. It returns the deliveries per consumer.
func runKeyShared(t *testing.T, n int, batched bool, steps []keySharedStep) map[string]int {
	rng := testenv.Rand(t)
	s := harness.StartStandalone(t, testDir(t))
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	topic := uniqueTopic(t)
	const keys = 32

	tr := newKeySharedTracker()
	type running struct {
		cons pulsar.Consumer
		stop context.CancelFunc
		done chan struct{}
	}
	live := map[string]*running{}
	join := func(name string) {
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "ks", Type: pulsar.KeyShared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, Name: name,
			EnableBatchIndexAcknowledgment: batched})
		runCtx, stop := context.WithCancel(ctx)
		r := &running{cons: cons, stop: stop, done: make(chan struct{})}
		live[name] = r
		delays := rand.New(rand.NewPCG(rng.Uint64(), 0))
		go func() {
			defer close(r.done)
			for {
				m, err := cons.Receive(runCtx)
				if err != nil {
					return
				}
				tr.received(name, m)
				// Hold the message a little, as an application would: deliberate pacing,
				// so that consumers hold unacknowledged messages when others join or
				// leave. Nothing is waited for here.
				time.Sleep(time.Duration(delays.IntN(2000)) * time.Microsecond)
				tr.released(m)
				if err := cons.Ack(m); err != nil {
					t.Errorf("%s ack: %v", name, err)
				}
			}
		}()
	}
	// stopRunning ends a consumer's loop; what it has taken is acknowledged (Close
	// flushes the acks before it leaves).
	stopRunning := func(name string) pulsar.Consumer {
		r := live[name]
		r.stop()
		<-r.done
		delete(live, name)
		return r.cons
	}
	defer func() {
		for name := range live {
			stopRunning(name).Close()
		}
	}()
	join("c1")

	popts := pulsar.ProducerOptions{Topic: topic, DisableBatching: true}
	if batched {
		popts = pulsar.ProducerOptions{Topic: topic, BatcherBuilderType: pulsar.KeyBasedBatchBuilder,
			BatchingMaxMessages: 20, BatchingMaxPublishDelay: 2 * time.Millisecond}
	}
	p := newProducer(t, c, popts)
	var sendErr atomic.Value
	produced := make(chan struct{})
	prng := rand.New(rand.NewPCG(rng.Uint64(), 0))
	go func() {
		defer close(produced)
		next := make([]int, keys)
		for i := 0; i < n; i++ {
			// Stay at most 500 messages ahead of the consumers, so joins land mid-stream.
			for {
				delivered, more := tr.unique.next()
				if int64(i)-delivered <= 500 {
					break
				}
				select {
				case <-more:
				case <-ctx.Done():
					return
				}
			}
			k := prng.IntN(keys)
			key := fmt.Sprintf("key-%02d", k)
			payload := fmt.Sprintf("%s/%d", key, next[k])
			next[k]++
			p.SendAsync(ctx, &pulsar.ProducerMessage{Key: key, Payload: []byte(payload)},
				func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
					if err != nil {
						sendErr.Store(err)
					}
				})
		}
		if err := p.FlushWithCtx(ctx); err != nil {
			sendErr.Store(err)
		}
	}()

	for _, st := range steps {
		tr.unique.waitFor(ctx, t, int64(st.at), "messages delivered")
		if st.join != "" {
			join(st.join)
		}
		if st.leave != "" {
			stopRunning(st.leave).Close()
		}
	}
	tr.unique.waitFor(ctx, t, int64(n), "messages delivered")
	<-produced
	if err, _ := sendErr.Load().(error); err != nil {
		t.Fatalf("send: %v", err)
	}
	var rest []pulsar.Consumer
	for name := range live {
		rest = append(rest, stopRunning(name))
	}
	for _, cons := range rest {
		defer cons.Close()
		expectNothing(t, cons, "every message was delivered once")
	}

	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.violations) > 0 {
		t.Fatalf("%d key exclusivity violations, first: %s", len(tr.violations), strings.Join(tr.violations[:min(5, len(tr.violations))], "; "))
	}
	total := 0
	for pl, k := range tr.deliveries {
		if k != 1 {
			t.Errorf("%q delivered %d times", pl, k)
		}
		total++
	}
	if total != n {
		t.Fatalf("%d distinct messages delivered, want %d", total, n)
	}
	for key, seqs := range tr.order {
		for i, s := range seqs {
			if s != i {
				t.Fatalf("key %s: delivery order %v, want 0..%d in order", key, seqs, len(seqs)-1)
			}
		}
	}
	t.Logf("deliveries per consumer: %v", tr.byConsumer)
	out := make(map[string]int, len(tr.byConsumer))
	for k, v := range tr.byConsumer {
		out[k] = v
	}
	return out
}

// TestSubscriptionKeySharedStickyOverlap: STICKY consumers declare their hash ranges; a
// consumer whose ranges overlap another's is refused with ConsumerAssignError, one
// asking for AUTO_SPLIT on a STICKY subscription is refused, and each message goes to
// the consumer whose range holds its key's hash.
func TestSubscriptionKeySharedStickyOverlap(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	topic := uniqueTopic(t)

	sticky := func(name string, ranges ...int) (pulsar.Consumer, error) {
		pol, err := pulsar.NewKeySharedPolicySticky(ranges)
		if err != nil {
			t.Fatal(err)
		}
		return c.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sticky", Type: pulsar.KeyShared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, Name: name, KeySharedPolicy: pol})
	}
	low, err := sticky("low", 0, 32767)
	if err != nil {
		t.Fatal(err)
	}
	defer low.Close()
	high, err := sticky("high", 32768, 65535)
	if err != nil {
		t.Fatal(err)
	}
	defer high.Close()
	if cons, err := sticky("overlap", 30000, 40000); err == nil {
		cons.Close()
		t.Fatal("a STICKY consumer with overlapping ranges was accepted")
	} else if !strings.Contains(err.Error(), "ConsumerAssignError") {
		t.Fatalf("overlapping STICKY ranges: error %q does not name ConsumerAssignError", err)
	}
	if cons, err := c.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sticky", Type: pulsar.KeyShared, Name: "auto"}); err == nil {
		cons.Close()
		t.Fatal("an AUTO_SPLIT consumer joined a STICKY subscription")
	}

	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	const n = 40
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("k%d", i)
		if _, err := p.Send(ctx, &pulsar.ProducerMessage{Key: key, Payload: []byte(key)}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < n {
		for _, cons := range []pulsar.Consumer{low, high} {
			rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
			m, err := cons.Receive(rctx)
			rcancel()
			if err != nil {
				if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("received %d of %d: %v", got, n, err)
				}
				continue
			}
			got++
			h := stickyHash(m.Key())
			if want := map[bool]string{true: "low", false: "high"}[h <= 32767]; want != cons.Name() {
				t.Fatalf("key %s (hash %d) went to %s, want %s", m.Key(), h, cons.Name(), want)
			}
			cons.Ack(m)
		}
	}
}

// stickyHash is Key_Shared's hash of a key, computed independently of the broker:
// Murmur3_32(key) & 0x7fffffff mod 65536, as Pulsar's StickyKeyConsumerSelector
// (hash range size 2<<15) computes it with its Murmur3_32Hash:
// https://github.com/apache/pulsar/blob/master/pulsar-broker/src/main/java/org/apache/pulsar/broker/service/StickyKeyConsumerSelector.java
func stickyHash(key string) uint32 {
	h := murmur3.New32() // not murmur3.Sum32, which checkptr (-race) rejects
	h.Write([]byte(key))
	return (h.Sum32() & 0x7fffffff) % 65536
}

// TestSubscriptionKeySharedStalledConsumer: a Key_Shared consumer that stops taking
// messages (its receiver queue of 5 is full) holds up only its own keys: the other
// consumer receives every message of its keys meanwhile; when the stalled one resumes
// it receives all of its keys' messages, in order.
func TestSubscriptionKeySharedStalledConsumer(t *testing.T) {
	s := harness.StartStandalone(t, testDir(t))
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	topic := uniqueTopic(t)
	sub := func(name string, queue int, ranges ...int) pulsar.Consumer {
		pol, err := pulsar.NewKeySharedPolicySticky(ranges)
		if err != nil {
			t.Fatal(err)
		}
		return subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "ks", Type: pulsar.KeyShared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, Name: name, KeySharedPolicy: pol,
			ReceiverQueueSize: queue})
	}
	slow := sub("slow", 5, 0, 32767)
	defer slow.Close()
	fast := sub("fast", 1000, 32768, 65535)
	defer fast.Close()

	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	const n, nkeys = 400, 16
	wantSlow, wantFast := map[string][]string{}, map[string][]string{}
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("key-%02d", i%nkeys)
		payload := fmt.Sprintf("%s/%d", key, i/nkeys)
		if _, err := p.Send(ctx, &pulsar.ProducerMessage{Key: key, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
		if stickyHash(key) <= 32767 {
			wantSlow[key] = append(wantSlow[key], payload)
		} else {
			wantFast[key] = append(wantFast[key], payload)
		}
	}
	if len(wantSlow) == 0 || len(wantFast) == 0 {
		t.Fatalf("the keys all hash to one half: slow %d keys, fast %d keys", len(wantSlow), len(wantFast))
	}
	drain := func(cons pulsar.Consumer, want map[string][]string) {
		t.Helper()
		total := 0
		for _, v := range want {
			total += len(v)
		}
		got := map[string][]string{}
		for i := 0; i < total; i++ {
			m := receive(t, ctx, cons)
			got[m.Key()] = append(got[m.Key()], string(m.Payload()))
			if err := cons.Ack(m); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Fatalf("%s: key %s delivered as %v, want %v", cons.Name(), k, got[k], v)
			}
		}
		expectNothing(t, cons, "each message of its keys once")
	}
	// The slow consumer has taken nothing yet; the fast one gets all of its keys.
	drain(fast, wantFast)
	drain(slow, wantSlow)
}
