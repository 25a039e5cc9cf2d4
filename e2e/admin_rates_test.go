package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestAdminStatsRates: while a producer sends at a known rate and a consumer receives,
// the stats show msgRateIn/Out and msgThroughputIn/Out near that rate on the topic, its
// publisher, its subscription and its consumer; once traffic stops they fall to 0.
func TestAdminStatsRates(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	adm := newAdmin(t, s.HTTPURL)
	c := newClient(t, s.PulsarURL)
	const topic = "persistent://public/default/stats-rates"
	tn := adminTopicName(t, topic)
	ctx := testCtx(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "rates"})
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})

	const rate = 50 // messages per second, 100 bytes each
	payload := make([]byte, 100)
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sent <- nil
				return
			case <-tick.C:
				if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: payload}); err != nil {
					sent <- err
					return
				}
			}
		}
	}()
	received := make(chan struct{})
	go func() {
		defer close(received)
		for {
			m, err := cons.Receive(ctx)
			if err != nil {
				return
			}
			cons.Ack(m)
		}
	}()

	// Rates are over the last few seconds: give the window time to fill.
	inRange := func(v float64) bool { return v > rate/4 && v < rate*4 }
	adminEventually(t, "rates near the produced rate", func() (bool, string) {
		st, err := adm.Topics().GetStats(tn)
		if err != nil {
			return false, err.Error()
		}
		sub := st.Subscriptions["rates"]
		desc := fmt.Sprintf("topic in %.1f/%.0fB out %.1f/%.0fB; publishers %+v; subscription out %.1f/%.0fB; consumers %+v",
			st.MsgRateIn, st.MsgThroughputIn, st.MsgRateOut, st.MsgThroughputOut, st.Publishers, sub.MsgRateOut, sub.MsgThroughputOut, sub.Consumers)
		if !inRange(st.MsgRateIn) || !inRange(st.MsgRateOut) || st.MsgThroughputIn < 100*rate/4 || st.MsgThroughputOut < 100*rate/4 {
			return false, desc
		}
		if len(st.Publishers) != 1 || !inRange(st.Publishers[0].MsgRateIn) || st.Publishers[0].MsgThroughputIn < 100*rate/4 {
			return false, desc
		}
		if !inRange(sub.MsgRateOut) || sub.MsgThroughputOut < 100*rate/4 {
			return false, desc
		}
		if len(sub.Consumers) != 1 || !inRange(sub.Consumers[0].MsgRateOut) || sub.Consumers[0].MsgThroughputOut < 100*rate/4 {
			return false, desc
		}
		return true, desc
	})
	close(stop)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	// Idle: the window slides past the traffic.
	adminEventually(t, "rates back to 0 once idle", func() (bool, string) {
		st, err := adm.Topics().GetStats(tn)
		if err != nil {
			return false, err.Error()
		}
		return st.MsgRateIn == 0 && st.MsgRateOut == 0, fmt.Sprintf("in %.2f out %.2f", st.MsgRateIn, st.MsgRateOut)
	})
}
