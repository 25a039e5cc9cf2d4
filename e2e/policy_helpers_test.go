package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin"

	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/metadata"
)

// Helpers of the TestPolicy* tests: a standalone whose policy checks run every 100 ms
// and whose topics roll over every 5 entries, so that enforcement is quick to observe.

type policyEnv struct {
	s     *harness.Standalone
	adm   pulsaradmin.Client
	c     pulsar.Client
	store *metadata.Store // the standalone's etcd, to see ledger metadata come and go
}

func startPolicyEnv(t *testing.T) *policyEnv {
	t.Helper()
	etcdAddr := harness.FreePort(t)
	s := harness.StartStandalone(t, t.TempDir(), "--etcd-listen", etcdAddr,
		"--retention-check-interval", "100ms", "--message-expiry-check-interval", "100ms",
		"--backlog-quota-check-interval", "100ms", "--max-entries-per-ledger", "5")
	store, err := metadata.Open(metadata.Config{Endpoints: []string{"http://" + etcdAddr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &policyEnv{s: s, adm: newAdmin(t, s.HTTPURL), c: newClient(t, s.PulsarURL), store: store}
}

// namespace creates public/<name> and returns it.
func (e *policyEnv) namespace(t *testing.T, name string) string {
	t.Helper()
	ns := "public/" + name
	if err := e.adm.Namespaces().CreateNamespace(ns); err != nil {
		t.Fatal(err)
	}
	return ns
}

// ledgerExists reports whether ledger id's metadata is in etcd (it is deleted with
// the ledger).
func (e *policyEnv) ledgerExists(t *testing.T, id int64) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.store.Get(ctx, e.store.Keys.Ledger(id))
	if errors.Is(err, metadata.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// listedLedgers are the ledger ids of the topic's internal stats.
func (e *policyEnv) listedLedgers(t *testing.T, topic string) []int64 {
	t.Helper()
	is, err := e.adm.Topics().GetInternalStats(adminTopicName(t, topic))
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, l := range is.Ledgers {
		out = append(out, l.LedgerID)
	}
	return out
}

// backlog is the subscription's msgBacklog in the topic's stats.
func (e *policyEnv) backlog(t *testing.T, topic, sub string) int64 {
	t.Helper()
	st, err := e.adm.Topics().GetStats(adminTopicName(t, topic))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := st.Subscriptions[sub]
	if !ok {
		t.Fatalf("no subscription %q in stats", sub)
	}
	return s.MsgBacklog
}

// subscribeAndLeave creates the durable subscription sub (at the earliest position) and
// disconnects, so that the topic has a backlog nobody consumes.
func (e *policyEnv) subscribeAndLeave(t *testing.T, topic, sub string) {
	t.Helper()
	cons, err := e.c.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: sub,
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	cons.Close()
}

func ledgerOf(id pulsar.MessageID) int64 { return id.LedgerID() }
