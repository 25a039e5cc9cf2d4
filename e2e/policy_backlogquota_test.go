package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"

	"github.com/strata-io/strata/internal/testenv"
)

// TestPolicyBacklogQuota: a destination_storage quota of 10 kB on a topic whose only
// subscription does not consume, one subtest per action.
func TestPolicyBacklogQuota(t *testing.T) {
	e := startPolicyEnv(t)
	const limit = 10 * 1024
	payload := bytes.Repeat([]byte("q"), 1024)
	setup := func(t *testing.T, name string, policy utils.RetentionPolicy) string {
		ns := e.namespace(t, name)
		if err := e.adm.Namespaces().SetBacklogQuota(ns, utils.NewBacklogQuota(limit, 0, policy), utils.DestinationStorage); err != nil {
			t.Fatal(err)
		}
		topic := uniqueTopicIn(t, ns)
		e.subscribeAndLeave(t, topic, "s")
		return topic
	}
	// sendUntilError sends until a send fails (the quota was enforced) and returns that
	// error; it fails the test if the backlog grew far past the quota meanwhile.
	sendUntilError := func(t *testing.T, p pulsar.Producer) (int, error) {
		ctx := testCtx(t)
		for i := 0; ; i++ {
			if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: payload}); err != nil {
				return i, err
			}
			if ctx.Err() != nil {
				t.Fatalf("%d sends accepted, never blocked", i)
			}
		}
	}

	t.Run("producer_request_hold", func(t *testing.T) {
		topic := setup(t, "qhold", utils.ProducerRequestHold)
		p := newProducer(t, e.c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true, SendTimeout: 2 * time.Second})
		n, err := sendUntilError(t, p)
		if !errors.Is(err, pulsar.ErrSendTimeout) {
			t.Fatalf("after %d sends: %v, want a send timeout (sends held)", n, err)
		}
		if n < limit/len(payload) {
			t.Fatalf("blocked after %d sends, below the quota", n)
		}
		// A new producer is refused while the quota is exceeded...
		if q, err := e.c.CreateProducer(pulsar.ProducerOptions{Topic: topic}); err == nil || !strings.Contains(err.Error(), "ProducerBlockedQuotaExceededError") {
			if q != nil {
				q.Close()
			}
			t.Fatalf("new producer while held: %v, want ProducerBlockedQuotaExceededError", err)
		}
		// ...and admitted again once the backlog is cleared.
		if err := e.adm.Subscriptions().ClearBacklog(adminTopicName(t, topic), "s"); err != nil {
			t.Fatal(err)
		}
		adminEventually(t, "producer admitted after clear-backlog", func() (bool, string) {
			q, err := e.c.CreateProducer(pulsar.ProducerOptions{Topic: topic})
			if err != nil {
				return false, err.Error()
			}
			defer q.Close()
			_, err = q.Send(testenv.Context(t, 10*time.Second), &pulsar.ProducerMessage{Payload: []byte("after")})
			return err == nil, fmt.Sprint(err)
		})
	})

	t.Run("producer_exception", func(t *testing.T) {
		topic := setup(t, "qexception", utils.ProducerException)
		p := newProducer(t, e.c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true, SendTimeout: 60 * time.Second})
		// pulsar-client-go v0.19 fails, on a refused reconnect, only the messages already
		// pending on the producer; a send issued right after the broker's disconnect waits
		// outside that queue until its timeout. Keeping several sends in flight makes the
		// exception reach the test deterministically.
		n, err := sendAsyncUntilError(t, p, payload)
		if !errors.Is(err, pulsar.ErrProducerBlockedQuotaExceeded) {
			t.Fatalf("after %d sends: %v, want ProducerBlockedQuotaExceeded", n, err)
		}
		if q, err := e.c.CreateProducer(pulsar.ProducerOptions{Topic: topic}); err == nil || !strings.Contains(err.Error(), "ProducerBlockedQuotaExceededException") {
			if q != nil {
				q.Close()
			}
			t.Fatalf("new producer: %v, want ProducerBlockedQuotaExceededException", err)
		}
	})

	t.Run("consumer_backlog_eviction", func(t *testing.T) {
		topic := setup(t, "qeviction", utils.ConsumerBacklogEviction)
		p := newProducer(t, e.c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		ctx := testCtx(t)
		const n = 40 // ~41 kB: four times the quota; producers are never blocked
		for i := range n {
			if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: append(fmt.Appendf(nil, "m%02d:", i), payload...)}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		adminEventually(t, "the oldest backlog is evicted down to the quota", func() (bool, string) {
			b := e.backlog(t, topic, "s")
			return b > 0 && b <= int64(limit/len(payload)), fmt.Sprintf("backlog %d", b)
		})
		left := e.backlog(t, topic, "s")
		cons := subscribe(t, e.c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s"})
		for i := n - int(left); i < n; i++ {
			m, err := cons.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("m%02d:", i); !bytes.HasPrefix(m.Payload(), []byte(want)) {
				t.Fatalf("got %q..., want %s (the newest %d messages)", m.Payload()[:4], want, left)
			}
			cons.Ack(m)
		}
	})
}

// sendAsyncUntilError keeps up to 8 sends in flight until one fails, and returns the
// number of acknowledged sends and the first error.
func sendAsyncUntilError(t *testing.T, p pulsar.Producer, payload []byte) (int, error) {
	t.Helper()
	ctx := testCtx(t)
	slots := make(chan struct{}, 8)
	errs := make(chan error, 1)
	var acked atomic.Int64
	for {
		select {
		case err := <-errs:
			return int(acked.Load()), err
		case slots <- struct{}{}:
		case <-ctx.Done():
			t.Fatalf("%d sends accepted, never blocked", acked.Load())
		}
		p.SendAsync(ctx, &pulsar.ProducerMessage{Payload: payload}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			<-slots
			if err != nil {
				select {
				case errs <- err:
				default:
				}
				return
			}
			acked.Add(1)
		})
	}
}
