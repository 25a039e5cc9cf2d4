package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// TestMessagingPartitioned: a partitioned topic created with the admin REST API
// (`PUT /admin/v2/persistent/{tenant}/{ns}/{topic}/partitions`, bare integer or
// pulsaradmin's JSON body) has that many partitions for the client; keyed messages go to
// one partition per key, keep their per-key order, and one consumer of the topic gets
// every partition, with the partition index in each message id; a consumer of one
// `-partition-N` topic reads the same log the producer wrote.
func TestMessagingPartitioned(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)

	t.Run("rest", func(t *testing.T) {
		topic := uniqueTopic(t)
		url := s.HTTPURL + "/admin/v2/persistent/" + strings.TrimPrefix(topic, "persistent://") + "/partitions"
		if code, body := rawAdminAs(t, http.MethodPut, url, "application/vnd.partitioned-topic-metadata+json",
			`{"properties":null,"partitions":3}`); code != http.StatusNoContent {
			t.Fatalf("create with pulsaradmin's body: HTTP %d %s", code, body)
		}
		if code, _ := rawAdminAs(t, http.MethodPut, url, "application/json", "5"); code != http.StatusConflict {
			t.Fatalf("creating it again: HTTP %d, want 409", code)
		}
		if code, _ := rawAdminAs(t, http.MethodPut, url+"x", "application/json", "0"); code/100 != 4 {
			t.Fatalf("0 partitions: HTTP %d, want 4xx", code)
		}
		if code, _ := rawAdminAs(t, http.MethodPut, s.HTTPURL+"/admin/v2/persistent/public/nope/x/partitions", "application/json", "2"); code != http.StatusNotFound {
			t.Fatalf("missing namespace: HTTP %d, want 404", code)
		}
		parts, err := c.TopicPartitions(topic)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 3 || parts[2] != topic+"-partition-2" {
			t.Fatalf("TopicPartitions %v", parts)
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(b)) != `{"partitions":3}` {
			t.Fatalf("GET partitions: %s", b)
		}
	})

	t.Run("keyed-routing", func(t *testing.T) {
		const nParts = 4
		topic := uniqueTopic(t)
		createPartitioned(t, s.HTTPURL, topic, nParts)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})

		const nKeys, perKey = 10, 6
		sentPart := map[string]int32{}
		for i := 0; i < perKey; i++ {
			for k := 0; k < nKeys; k++ {
				key := fmt.Sprintf("key-%d", k)
				id, err := prod.Send(ctx, &pulsar.ProducerMessage{Key: key, Payload: []byte(fmt.Sprintf("%s/%d", key, i))})
				if err != nil {
					t.Fatal(err)
				}
				if p, ok := sentPart[key]; ok && p != id.PartitionIdx() {
					t.Fatalf("key %s went to partitions %d and %d", key, p, id.PartitionIdx())
				}
				sentPart[key] = id.PartitionIdx()
			}
		}
		used := map[int32]bool{}
		for _, p := range sentPart {
			if p < 0 || p >= nParts {
				t.Fatalf("producer message id partition %d", p)
			}
			used[p] = true
		}
		if len(used) < 2 {
			t.Fatalf("%d keys all went to one partition: %v", nKeys, sentPart)
		}

		next := map[string]int{}
		for n := 0; n < nKeys*perKey; n++ {
			m := receive(t, ctx, cons)
			key := m.Key()
			if want := fmt.Sprintf("%s/%d", key, next[key]); string(m.Payload()) != want {
				t.Fatalf("got %q, want %q (per-key order)", m.Payload(), want)
			}
			next[key]++
			p := m.ID().PartitionIdx()
			if p != sentPart[key] {
				t.Fatalf("%q: message id partition %d, producer saw %d", m.Payload(), p, sentPart[key])
			}
			if want := fmt.Sprintf("%s-partition-%d", topic, p); m.Topic() != want {
				t.Fatalf("message topic %q want %q", m.Topic(), want)
			}
			cons.Ack(m)
		}
		expectNothing(t, cons, "nothing more is due")

		// One partition, consumed directly, is the same log.
		var part int32
		var keys []string
		for k, p := range sentPart {
			if len(keys) == 0 {
				part = p
			}
			if p == part {
				keys = append(keys, k)
			}
		}
		one := subscribe(t, c, pulsar.ConsumerOptions{Topic: fmt.Sprintf("%s-partition-%d", topic, part),
			SubscriptionName: "one", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		for n := 0; n < len(keys)*perKey; n++ {
			m := receive(t, ctx, one)
			if sentPart[m.Key()] != part {
				t.Fatalf("partition %d consumer got key %s of partition %d", part, m.Key(), sentPart[m.Key()])
			}
			if m.ID().PartitionIdx() != 0 {
				// pulsar-client-go gives a consumer subscribed directly to a -partition-N
				// topic partition index 0, as it does a non-partitioned topic
				// (partitionIdx in https://github.com/apache/pulsar-client-go/blob/v0.19.0/pulsar/impl_message.go).
				t.Fatalf("direct partition consumer: id partition %d", m.ID().PartitionIdx())
			}
			one.Ack(m)
		}
		expectNothing(t, one, "nothing more is due")
	})

	t.Run("shared-round-robin-and-per-partition-ops", func(t *testing.T) {
		const nParts = 3
		topic := uniqueTopic(t)
		createPartitioned(t, s.HTTPURL, topic, nParts)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", Type: pulsar.Shared,
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		empty, err := cons.GetLastMessageIDs()
		if err != nil {
			t.Fatal(err)
		}
		if len(empty) != nParts {
			t.Fatalf("GetLastMessageIDs on %d empty partitions: %v", nParts, empty)
		}
		for _, id := range empty {
			if id.EntryID() != -1 {
				t.Fatalf("empty partition %s: last id %v", id.Topic(), id)
			}
		}
		// Unkeyed messages, batched, spread round-robin over the partitions.
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, BatchingMaxMessages: 10,
			BatchingMaxPublishDelay: 5 * time.Millisecond})
		payloads := numbered("rr", 0, 120)
		ids := sendBatched(t, ctx, prod, payloads[:60]...)
		nextMillisecond(time.Now().UnixMilli())
		secondHalf := time.Now()
		ids = append(ids, sendBatched(t, ctx, prod, payloads[60:]...)...)
		lastPer := map[int32]pulsar.MessageID{}
		for _, id := range ids {
			if prev, ok := lastPer[id.PartitionIdx()]; !ok || idKey(prev)[0] < idKey(id)[0] ||
				(idKey(prev)[0] == idKey(id)[0] && (idKey(prev)[1] < idKey(id)[1] ||
					idKey(prev)[1] == idKey(id)[1] && idKey(prev)[2] < idKey(id)[2])) {
				lastPer[id.PartitionIdx()] = id
			}
		}
		if len(lastPer) != nParts {
			t.Fatalf("round-robin used partitions %v, want all %d", lastPer, nParts)
		}
		got := receiveSet(t, ctx, cons, len(payloads))
		if len(got) != len(payloads) {
			t.Fatalf("received %d distinct messages, want %d", len(got), len(payloads))
		}
		last, err := cons.GetLastMessageIDs()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range last {
			// The client leaves the partition index of these ids at 0; the topic says.
			var p int32
			if _, err := fmt.Sscanf(id.Topic()[len(topic):], "-partition-%d", &p); err != nil {
				t.Fatalf("last message id of topic %q", id.Topic())
			}
			want, ok := lastPer[p]
			if !ok || idKey(id) != idKey(want) {
				t.Fatalf("partition %d: last id %v batch %d, want %v batch %d", p, id, id.BatchIdx(), want, want.BatchIdx())
			}
		}
		// SeekByTime on a partitioned consumer seeks every partition.
		if err := cons.SeekByTime(secondHalf); err != nil {
			t.Fatalf("seek by time: %v", err)
		}
		again := receiveSet(t, ctx, cons, 60)
		for p := range again {
			var i int
			fmt.Sscanf(p, "rr-%d", &i)
			if i < 60 {
				t.Fatalf("after seeking to the second half's time got %q", p)
			}
		}
		expectNothing(t, cons, "nothing more is due")
	})

	t.Run("grow-partitions", func(t *testing.T) {
		topic := uniqueTopic(t)
		createPartitioned(t, s.HTTPURL, topic, 2)
		cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, AutoDiscoveryPeriod: 100 * time.Millisecond})
		prod := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true,
			PartitionsAutoDiscoveryInterval: 100 * time.Millisecond})
		url := s.HTTPURL + "/admin/v2/persistent/" + strings.TrimPrefix(topic, "persistent://") + "/partitions"
		post := func(body string) int {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := post("4"); code != http.StatusNoContent {
			t.Fatalf("raise to 4 partitions: HTTP %d", code)
		}
		if code := post("3"); code != http.StatusConflict {
			t.Fatalf("lower to 3 partitions: HTTP %d, want 409", code)
		}
		if parts, err := c.TopicPartitions(topic); err != nil || len(parts) != 4 {
			t.Fatalf("TopicPartitions after the update: %v %v", parts, err)
		}
		// The producer discovers the new partitions on its own; send until round-robin
		// routing uses one, then the consumer (which discovered them too) gets it.
		for i := 0; ; i++ {
			id, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: []byte(fmt.Sprintf("g-%d", i))})
			if err != nil {
				t.Fatal(err)
			}
			if id.PartitionIdx() < 2 {
				continue
			}
			want := fmt.Sprintf("g-%d", i)
			for {
				m := receive(t, ctx, cons)
				cons.Ack(m)
				if string(m.Payload()) == want {
					if m.ID().PartitionIdx() != id.PartitionIdx() {
						t.Fatalf("%s: consumer partition %d, producer %d", want, m.ID().PartitionIdx(), id.PartitionIdx())
					}
					return
				}
			}
		}
	})
}
