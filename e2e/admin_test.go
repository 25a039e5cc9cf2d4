package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"

	"github.com/strata-io/strata/e2e/harness"
)

// TestAdminTenantsNamespaces: pulsaradmin manages clusters, tenants and namespaces;
// deleting a tenant with namespaces or a namespace with topics is refused.
func TestAdminTenantsNamespaces(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	adm := newAdmin(t, s.HTTPURL)

	cl, err := adm.Clusters().List()
	if err != nil || !slices.Equal(cl, []string{"standalone"}) {
		t.Fatalf("clusters: %v %v", cl, err)
	}
	if cd, err := adm.Clusters().Get("standalone"); err != nil || cd.BrokerServiceURL != s.PulsarURL {
		t.Fatalf("cluster: %+v %v", cd, err)
	}
	if _, err := adm.Clusters().Get("nope"); adminStatus(err) != 404 {
		t.Fatalf("unknown cluster: %v", err)
	}

	if err := adm.Tenants().Create(utils.TenantData{Name: "acme", AllowedClusters: []string{"standalone"}}); err != nil {
		t.Fatal(err)
	}
	if err := adm.Tenants().Create(utils.TenantData{Name: "acme"}); adminStatus(err) != 409 {
		t.Fatalf("duplicate tenant: %v", err)
	}
	ts, err := adm.Tenants().List()
	if err != nil || !slices.Contains(ts, "acme") || !slices.Contains(ts, "public") {
		t.Fatalf("tenants: %v %v", ts, err)
	}
	if err := adm.Tenants().Update(utils.TenantData{Name: "acme", AdminRoles: []string{"ops"}, AllowedClusters: []string{"standalone"}}); err != nil {
		t.Fatal(err)
	}
	if td, err := adm.Tenants().Get("acme"); err != nil || !slices.Equal(td.AdminRoles, []string{"ops"}) {
		t.Fatalf("tenant: %+v %v", td, err)
	}

	ns := adm.Namespaces()
	if err := ns.CreateNamespace("acme/orders"); err != nil {
		t.Fatal(err)
	}
	if err := ns.CreateNamespace("nosuch/orders"); adminStatus(err) != 404 {
		t.Fatalf("namespace of unknown tenant: %v", err)
	}
	if l, err := ns.GetNamespaces("acme"); err != nil || !slices.Equal(l, []string{"acme/orders"}) {
		t.Fatalf("namespaces: %v %v", l, err)
	}
	if err := adm.Tenants().Delete("acme"); adminStatus(err) != 409 {
		t.Fatalf("delete tenant with namespaces: %v", err)
	}
	tn := adminTopicName(t, "persistent://acme/orders/t1")
	if err := adm.Topics().Create(tn, 0); err != nil {
		t.Fatal(err)
	}
	if err := adm.Topics().Create(tn, 0); adminStatus(err) != 409 {
		t.Fatalf("duplicate topic: %v", err)
	}
	if err := ns.DeleteNamespace("acme/orders"); adminStatus(err) != 409 {
		t.Fatalf("delete namespace with a topic: %v", err)
	}
	if code, body := rawAdmin(t, "DELETE", s.HTTPURL+"/admin/v2/namespaces/acme/orders?force=true", ""); code != 204 {
		t.Fatalf("force delete namespace: %d %s", code, body)
	}
	if _, err := ns.GetPolicies("acme/orders"); adminStatus(err) != 404 {
		t.Fatalf("deleted namespace: %v", err)
	}
	if err := adm.Tenants().Delete("acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Tenants().Get("acme"); adminStatus(err) != 404 {
		t.Fatalf("deleted tenant: %v", err)
	}
}

// TestAdminTopicsSubscriptions: stats read through pulsaradmin agree with what the test
// produced and acknowledged, and every subscription operation moves the backlog as
// Pulsar's would.
func TestAdminTopicsSubscriptions(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	adm := newAdmin(t, s.HTTPURL)
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	full := uniqueTopic(t)
	tn := adminTopicName(t, full)

	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: full, SubscriptionName: "sub", Type: pulsar.Shared,
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	prod := newProducer(t, c, pulsar.ProducerOptions{Topic: full, DisableBatching: true, Name: "p1"})
	const n = 10
	payloads := numbered("m", 0, n)
	ids := send(t, ctx, prod, payloads...)
	acked := map[int]bool{0: true, 1: true, 2: true, 6: true}
	for i := 0; i < n; i++ {
		m, err := cons.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var idx int
		fmt.Sscanf(string(m.Payload()), "m-%d", &idx)
		if acked[idx] {
			cons.Ack(m)
		}
	}

	var st utils.TopicStats
	adminEventually(t, "backlog = produced - acknowledged", func() (bool, string) {
		var err error
		st, err = adm.Topics().GetStats(tn)
		if err != nil {
			return false, err.Error()
		}
		return st.Subscriptions["sub"].MsgBacklog == n-int64(len(acked)), fmt.Sprintf("%+v", st.Subscriptions["sub"])
	})
	if st.MsgCounterIn != n || st.StorageSize <= 0 || st.MsgCounterOut < n || st.AverageMsgSize <= 0 {
		t.Fatalf("stats: in %d out %d storage %d avg %f", st.MsgCounterIn, st.MsgCounterOut, st.StorageSize, st.AverageMsgSize)
	}
	if len(st.Publishers) != 1 || st.Publishers[0].ProducerName != "p1" {
		t.Fatalf("publishers: %+v", st.Publishers)
	}
	if sub := st.Subscriptions["sub"]; len(sub.Consumers) != 1 || sub.SubType != "Shared" || !sub.IsDurable {
		t.Fatalf("subscription: %+v", sub)
	}
	is, err := adm.Topics().GetInternalStats(tn)
	if err != nil {
		t.Fatal(err)
	}
	var entries, size int64
	for _, l := range is.Ledgers {
		entries += l.Entries
		size += l.Size
	}
	if entries != n || size <= 0 || is.NumberOfEntries != n {
		t.Fatalf("internal stats ledgers: %+v", is)
	}
	first := ids[0].(interface{ LedgerID() int64 })
	cur := is.Cursors["sub"]
	if cur.MarkDeletePosition != fmt.Sprintf("%d:2", first.LedgerID()) ||
		cur.IndividuallyDeletedMessages != fmt.Sprintf("[(%d:5..%d:6]]", first.LedgerID(), first.LedgerID()) {
		t.Fatalf("cursor: %+v", cur)
	}

	subs := adm.Subscriptions()
	earliest := utils.MessageID{LedgerID: -1, EntryID: -1, PartitionIndex: -1}
	if err := subs.Create(tn, "s2", earliest); err != nil {
		t.Fatal(err)
	}
	if err := subs.Create(tn, "s2", earliest); adminStatus(err) != 409 {
		t.Fatalf("duplicate subscription: %v", err)
	}
	if l, err := subs.List(tn); err != nil || !slices.Equal(l, []string{"s2", "sub"}) {
		t.Fatalf("subscriptions: %v %v", l, err)
	}
	backlog := func(sub string) int64 {
		t.Helper()
		st, err := adm.Topics().GetStats(tn)
		if err != nil {
			t.Fatal(err)
		}
		return st.Subscriptions[sub].MsgBacklog
	}
	if b := backlog("s2"); b != n {
		t.Fatalf("new subscription at earliest: backlog %d", b)
	}
	if err := subs.SkipMessages(tn, "s2", 3); err != nil {
		t.Fatal(err)
	}
	if b := backlog("s2"); b != n-3 {
		t.Fatalf("after skip 3: backlog %d", b)
	}
	msgs, err := subs.PeekMessages(tn, "s2", 2)
	if err != nil || len(msgs) != 2 || string(msgs[0].Payload) != payloads[3] || string(msgs[1].Payload) != payloads[4] {
		t.Fatalf("peek: %v %v", msgs, err)
	}
	l0 := ids[7].(interface {
		LedgerID() int64
		EntryID() int64
	})
	m, err := subs.GetMessageByID(tn, l0.LedgerID(), l0.EntryID())
	if err != nil || string(m.Payload) != payloads[7] {
		t.Fatalf("get message by id: %v %v", m, err)
	}
	if _, err := subs.GetMessageByID(tn, l0.LedgerID(), 9999); adminStatus(err) != 404 {
		t.Fatalf("unknown message id: %v", err)
	}
	if err := subs.ResetCursorToTimestamp(tn, "s2", 0); err != nil {
		t.Fatal(err)
	}
	if b := backlog("s2"); b != n {
		t.Fatalf("after reset to time 0: backlog %d", b)
	}
	if err := subs.ResetCursorToMessageID(tn, "s2", utils.MessageID{LedgerID: l0.LedgerID(), EntryID: 5}); err != nil {
		t.Fatal(err)
	}
	if b := backlog("s2"); b != n-5 {
		t.Fatalf("after reset to entry 5: backlog %d", b)
	}
	if err := subs.ClearBacklog(tn, "s2"); err != nil {
		t.Fatal(err)
	}
	if b := backlog("s2"); b != 0 {
		t.Fatalf("after clear backlog: %d", b)
	}
	if err := subs.Create(tn, "s3", earliest); err != nil {
		t.Fatal(err)
	}
	if err := subs.ExpireMessages(tn, "s3", 3600); err != nil {
		t.Fatal(err)
	}
	if b := backlog("s3"); b != n {
		t.Fatalf("expire older than 1h: backlog %d, want %d", b, n)
	}
	if err := subs.ExpireMessages(tn, "s3", 0); err != nil {
		t.Fatal(err)
	}
	if b := backlog("s3"); b != 0 {
		t.Fatalf("expire everything: backlog %d", b)
	}
	// The live subscription: skipping through the admin API reaches its dispatcher.
	if err := subs.SkipMessages(tn, "sub", 100); err != nil {
		t.Fatal(err)
	}
	if b := backlog("sub"); b != 0 {
		t.Fatalf("live subscription after skip: backlog %d", b)
	}
	if err := subs.Delete(tn, "sub"); adminStatus(err) != 412 {
		t.Fatalf("delete subscription with a consumer: %v", err)
	}
	if err := subs.Delete(tn, "s2"); err != nil {
		t.Fatal(err)
	}
	if err := subs.Delete(tn, "s2"); adminStatus(err) != 404 {
		t.Fatalf("delete deleted subscription: %v", err)
	}

	// Delete is refused while clients are connected, unless forced.
	if err := adm.Topics().Delete(tn, false, true); adminStatus(err) != 412 {
		t.Fatalf("delete topic in use: %v", err)
	}
	if _, err := adm.Topics().GetStats(tn); err != nil {
		t.Fatalf("refused delete changed state: %v", err)
	}
	if err := adm.Topics().Unload(tn); err != nil {
		t.Fatal(err)
	}
	last, err := adm.Topics().Terminate(tn)
	if err != nil || last.EntryID != n-1 {
		t.Fatalf("terminate: %+v %v", last, err)
	}
	if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("late")}); err == nil {
		t.Fatal("send after terminate succeeded")
	}
	// The forced delete disconnects the producer and the consumer; they reconnect at
	// once, and with auto topic creation (on by default, as in Pulsar) their reconnect
	// would create the topic again before the stats below. Turn it off first, so that
	// what the delete did is what the stats see.
	if err := adm.Namespaces().SetTopicAutoCreation(*mustNS(t, "public/default"),
		utils.TopicAutoCreationConfig{Allow: false, Type: utils.NonPartitioned}); err != nil {
		t.Fatal(err)
	}
	if err := adm.Topics().Delete(tn, true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Topics().GetStats(tn); adminStatus(err) != 404 {
		t.Fatalf("stats of deleted topic: %v", err)
	}
	_, nonPart, err := adm.Topics().List(*mustNS(t, "public/default"))
	if err != nil || slices.Contains(nonPart, full) {
		t.Fatalf("topic list after delete: %v %v", nonPart, err)
	}
}

func mustNS(t *testing.T, s string) *utils.NameSpaceName {
	t.Helper()
	ns, err := utils.GetNamespaceName(s)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestAdminPartitioned: create, raise, list, stats and delete a partitioned topic.
func TestAdminPartitioned(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	adm := newAdmin(t, s.HTTPURL)
	c := newClient(t, s.PulsarURL)
	ctx := testCtx(t)
	full := uniqueTopic(t)
	tn := adminTopicName(t, full)
	if err := adm.Topics().Create(tn, 2); err != nil {
		t.Fatal(err)
	}
	if err := adm.Topics().Update(tn, 3); err != nil {
		t.Fatal(err)
	}
	if err := adm.Topics().Update(tn, 2); adminStatus(err) != 409 {
		t.Fatalf("shrink: %v", err)
	}
	if md, err := adm.Topics().GetMetadata(tn); err != nil || md.Partitions != 3 {
		t.Fatalf("metadata: %+v %v", md, err)
	}
	prod := newProducer(t, c, pulsar.ProducerOptions{Topic: full, DisableBatching: true})
	for i := 0; i < 9; i++ {
		if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Key: fmt.Sprint(i), Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	part, _, err := adm.Topics().List(*mustNS(t, "public/default"))
	if err != nil || !slices.Contains(part, full) {
		t.Fatalf("partitioned list: %v %v", part, err)
	}
	ps, err := adm.Topics().GetPartitionedStats(tn, true)
	if err != nil || ps.Metadata.Partitions != 3 || ps.StorageSize <= 0 || len(ps.Partitions) == 0 {
		t.Fatalf("partitioned stats: %+v %v", ps, err)
	}
	var in int64
	for _, p := range ps.Partitions {
		in += p.MsgCounterIn
	}
	if in != 9 {
		t.Fatalf("partition msgInCounter sum %d, want 9", in)
	}
	if err := adm.Topics().Delete(tn, false, false); adminStatus(err) != 412 {
		t.Fatalf("delete partitioned topic in use: %v", err)
	}
	prod.Close()
	if err := adm.Topics().Delete(tn, false, false); err != nil {
		t.Fatal(err)
	}
	if md, err := adm.Topics().GetMetadata(tn); err != nil || md.Partitions != 0 {
		t.Fatalf("metadata after delete: %+v %v", md, err)
	}
}
