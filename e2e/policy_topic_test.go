package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// TestPolicyTopicOverride: topic-level policies set through pulsaradmin win over the
// namespace's (message TTL, max producers), and removing them falls back to the
// namespace's.
func TestPolicyTopicOverride(t *testing.T) {
	e := startPolicyEnv(t)
	ns := e.namespace(t, "topic-override")
	topic := uniqueTopicIn(t, ns)
	tn := adminTopicName(t, topic)
	ctx := testCtx(t)
	if err := e.adm.Namespaces().SetNamespaceMessageTTL(ns, 3600); err != nil {
		t.Fatal(err)
	}
	if err := e.adm.Namespaces().SetMaxProducersPerTopic(*mustNS(t, ns), 3); err != nil {
		t.Fatal(err)
	}
	e.subscribeAndLeave(t, topic, "s")

	// Values are checked; the unset override reads null, the applied one the namespace's.
	if err := e.adm.Topics().SetMaxProducers(tn, -1); adminStatus(err) != http.StatusPreconditionFailed {
		t.Fatalf("maxProducers -1: %v, want 412", err)
	}
	if code, body := rawAdmin(t, "POST", e.s.HTTPURL+"/admin/v2/"+tn.GetRestPath()+"/retention", `{"retentionTimeInMinutes":-2}`); code != http.StatusPreconditionFailed {
		t.Fatalf("retention -2 min: %d %s, want 412", code, body)
	}
	if n, err := e.adm.Topics().GetMaxProducers(tn); err != nil || n != -1 {
		t.Fatalf("unset topic maxProducers = %d, %v; want -1 (null)", n, err)
	}
	if code, body := rawAdmin(t, "GET", e.s.HTTPURL+"/admin/v2/"+tn.GetRestPath()+"/messageTTL?applied=true", ""); code != 200 || body != "3600\n" {
		t.Fatalf("applied messageTTL = %d %q, want 3600", code, body)
	}

	// Max producers: the topic's 1 wins over the namespace's 3.
	if err := e.adm.Topics().SetMaxProducers(tn, 1); err != nil {
		t.Fatal(err)
	}
	if n, err := e.adm.Topics().GetMaxProducers(tn); err != nil || n != 1 {
		t.Fatalf("topic maxProducers = %d, %v; want 1", n, err)
	}
	p := newProducer(t, e.c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if p2, err := e.c.CreateProducer(pulsar.ProducerOptions{Topic: topic, SendTimeout: 5 * time.Second}); err == nil {
		p2.Close()
		t.Fatal("second producer admitted with the topic's maxProducers=1")
	}

	// Message TTL: the topic's 3 s wins over the namespace's hour.
	for i := range 6 {
		if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: fmt.Appendf(nil, "old-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.adm.Topics().SetMessageTTL(tn, 3); err != nil {
		t.Fatal(err)
	}
	if n, err := e.adm.Topics().GetMessageTTL(tn); err != nil || n != 3 {
		t.Fatalf("topic messageTTL = %d, %v; want 3", n, err)
	}
	adminEventually(t, "the topic's TTL expires the backlog", func() (bool, string) {
		b := e.backlog(t, topic, "s")
		return b == 0, fmt.Sprintf("backlog %d", b)
	})

	// Removing the overrides falls back to the namespace: a second producer is admitted
	// (3 allowed) and new messages outlive 3 s (TTL back to an hour).
	if err := e.adm.Topics().RemoveMaxProducers(tn); err != nil {
		t.Fatal(err)
	}
	if err := e.adm.Topics().RemoveMessageTTL(tn); err != nil {
		t.Fatal(err)
	}
	if n, err := e.adm.Topics().GetMessageTTL(tn); err != nil || n != -1 {
		t.Fatalf("topic messageTTL after removal = %d, %v; want -1 (null)", n, err)
	}
	newProducer(t, e.c, pulsar.ProducerOptions{Topic: topic})
	for i := range 4 {
		if _, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: fmt.Appendf(nil, "new-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// That nothing expires has no event of its own; a witness topic with a 3 s TTL of its
	// own gives one. Its TTL is set after the removal above while its producer keeps it
	// loaded, so the broker learns that TTL from the etcd watch of topic policies, which
	// delivers records in revision order: once the witness's TTL acts, the broker has
	// seen the removal. Its first message is sent after the new ones: when it
	// expires (in some TTL check cycle k), the new ones are more than 3 s old. The checks
	// run cycle after cycle, each over every loaded topic, so the second witness message,
	// sent after that and 3 s old when it expires, cannot expire before cycle k+2 (a cycle
	// lasts milliseconds and one starts every 100 ms); cycle k+1, wholly before that,
	// checked this topic when its new messages were older than the removed TTL.
	witness := topic + "-witness"
	e.subscribeAndLeave(t, witness, "s")
	wp := newProducer(t, e.c, pulsar.ProducerOptions{Topic: witness, DisableBatching: true})
	if err := e.adm.Topics().SetMessageTTL(adminTopicName(t, witness), 3); err != nil {
		t.Fatal(err)
	}
	for _, round := range []string{"first", "second"} {
		send(t, ctx, wp, "witness-"+round)
		adminEventually(t, "the witness's "+round+" message expires", func() (bool, string) {
			b := e.backlog(t, witness, "s")
			return b == 0, fmt.Sprintf("witness backlog %d", b)
		})
	}
	if b := e.backlog(t, topic, "s"); b != 4 {
		t.Fatalf("backlog %d after TTL checks that saw the new messages older than the removed 3 s TTL, want 4 (namespace TTL is an hour)", b)
	}

	// Overrides go with the topic: a topic created again under the name has none, and a
	// topic that does not exist cannot get one.
	if err := e.adm.Topics().SetMaxConsumers(tn, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.adm.Topics().Delete(tn, true, true); err != nil {
		t.Fatal(err)
	}
	if err := e.adm.Topics().SetMaxConsumers(tn, 1); adminStatus(err) != http.StatusNotFound {
		t.Fatalf("maxConsumers on a deleted topic: %v, want 404", err)
	}
	if err := e.adm.Topics().Create(tn, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := e.adm.Topics().GetMaxConsumers(tn); err != nil || n != -1 {
		t.Fatalf("maxConsumers of the re-created topic = %d, %v; want -1 (none)", n, err)
	}
}
