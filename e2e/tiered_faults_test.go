package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/e2e/harness/queuecheck"
	"github.com/strata-io/strata/internal/testenv"
)

// The TestTieredFault* tests: tiered storage under faults — the S3 server killed, the
// broker SIGKILLed mid-upload, a flipped byte in a stored object — each with the queue
// checker (e2e/harness/queuecheck) proving that no acknowledged message is lost and no
// wrong byte is delivered.

// faultLedgerEntries is the ledger size of the fault tests: larger than the other
// tiered tests' so that a steady producer makes a few ledgers a second, not dozens.
const faultLedgerEntries = 20

// faultRig is a standalone offloading to versitygw with a queuecheck producer sending
// to one topic, a "hold" subscription keeping every ledger, and the records to check.
type faultRig struct {
	e      *tieredEnv
	s      *harness.Standalone
	client pulsar.Client
	topic  string
	sends  *queuecheck.Sends
	prod   *queuecheck.Producer
}

// startFaultRig starts the standalone (extra flags appended), the hold subscription and
// a producer of 1 KiB messages at 200/s, and waits for n acknowledged sends.
func startFaultRig(t *testing.T, ctx context.Context, n int, extra ...string) *faultRig {
	t.Helper()
	e, s := startTieredStandalone(t, false, append([]string{"--max-entries-per-ledger", fmt.Sprint(faultLedgerEntries)}, extra...)...)
	r := &faultRig{e: e, s: s, client: newClient(t, s.PulsarURL), topic: uniqueTopic(t), sends: queuecheck.NewSends()}
	subscribe(t, r.client, pulsar.ConsumerOptions{Topic: r.topic, SubscriptionName: "hold",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest}).Close()
	r.prod = queuecheck.StartProducer(t, queuecheck.ProducerConfig{Client: r.client, Topic: r.topic, Name: "p",
		Sends: r.sends, Rate: 200, PayloadSize: 1024, Seed: testenv.Seed(t),
		Options: pulsar.ProducerOptions{DisableBatching: true, SendTimeout: time.Minute}})
	if err := r.sends.WaitAcked(ctx, n); err != nil {
		t.Fatal(err)
	}
	return r
}

// lastAckedLedger is the ledger of the newest acknowledged send: an offload "before" it
// covers every ledger already closed.
func (r *faultRig) lastAckedLedger(t *testing.T) int64 {
	t.Helper()
	var last int64 = -1
	for _, a := range r.sends.AckRecords() {
		last = max(last, a.Ledger)
	}
	if last < 0 {
		t.Fatal("no acknowledged send")
	}
	return last
}

// closedLedgersBefore lists the topic's ledgers (record order) with ids below before.
func (r *faultRig) closedLedgersBefore(t *testing.T, ctx context.Context, before int64) []int64 {
	t.Helper()
	var out []int64
	for _, li := range r.e.record(t, ctx, r.topic).Ledgers {
		if li.ID < before && li.Entries > 0 {
			out = append(out, li.ID)
		}
	}
	return out
}

// checkAllDelivered stops the producer, then reads the whole topic with a new
// subscription from earliest — through the offloaded ledgers — and checks with the
// queue checker that every acknowledged message is delivered, intact and in order.
func (r *faultRig) checkAllDelivered(t *testing.T, ctx context.Context, client pulsar.Client) queuecheck.Report {
	t.Helper()
	if err := r.prod.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	receipts := queuecheck.NewReceipts()
	cons := queuecheck.StartConsumer(t, queuecheck.ConsumerConfig{Client: client, Topic: r.topic,
		Subscription: fmt.Sprintf("check-%d", time.Now().UnixNano()), Receipts: receipts})
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := queuecheck.WaitConsumed(wctx, r.sends, receipts); err != nil {
		t.Fatal(err)
	}
	cons.Stop()
	rep := queuecheck.Check(r.sends, receipts, queuecheck.Options{Ordered: true})
	if !rep.OK() || len(rep.Lost) != 0 {
		t.Fatalf("queue check: %s", rep)
	}
	t.Logf("queue check: %s", rep)
	return rep
}

// TestTieredFaultS3KilledMidOffload: versitygw is SIGKILLed while a manual offload of
// many ledgers runs. The status turns ERROR with the store's error, the ledgers not
// offloaded keep their bookie copies and are not marked offloaded, nothing is left in
// the bucket that the record does not name; once the server is back the offload
// succeeds, the bookie copies go after the lag, and the queue checker reads every
// acknowledged message back, intact and in order, while publishing never stopped.
func TestTieredFaultS3KilledMidOffload(t *testing.T) {
	ctx := testCtx(t)
	r := startFaultRig(t, ctx, 200, "--offload-max-bytes-per-second", "100000", "--offload-deletion-lag", "1s")
	before := r.lastAckedLedger(t)
	ledgers := r.closedLedgersBefore(t, ctx, before)
	if len(ledgers) < 8 {
		t.Fatalf("only %d closed ledgers %v", len(ledgers), ledgers)
	}
	if code, body := r.e.triggerOffload(t, r.topic, before); code != http.StatusNoContent {
		t.Fatalf("PUT offload: HTTP %d %s", code, body)
	}
	// Mid-offload: some ledgers done, the rest to go.
	pollUntil(t, ctx, 60*time.Second, "2 ledgers offloaded", func() (bool, string) {
		got := r.e.offloadedLedgers(t, r.topic)
		return len(got) >= 2, fmt.Sprint(got)
	})
	if st := r.e.offloadStatus(t, r.topic); st.Status != "RUNNING" {
		t.Fatalf("status mid-offload: %+v", st)
	}
	// A second trigger while one runs is refused.
	if code, body := r.e.triggerOffload(t, r.topic, before); code != http.StatusConflict {
		t.Fatalf("PUT offload while one runs: HTTP %d %s, want 409", code, body)
	}
	r.e.gw.Stop()
	st := r.e.waitOffloadDone(t, ctx, r.topic)
	if st.Status != "ERROR" || st.LastError == "" {
		t.Fatalf("status after the store died: %+v, want ERROR with the error", st)
	}
	t.Logf("status with the store down: %+v", st)
	done := r.e.offloadedLedgers(t, r.topic)
	if len(done) >= len(ledgers) {
		t.Fatalf("every ledger offloaded (%v) although the store died", done)
	}
	in := r.e.record(t, ctx, r.topic)
	for _, id := range ledgers {
		if slices.Contains(done, id) {
			continue
		}
		if li := findLedger(in, id); li.Offload.Complete() {
			t.Fatalf("ledger %d: record says complete, internal stats do not", id)
		}
		if !r.e.ledgerExists(t, ctx, id) {
			t.Fatalf("ledger %d is not offloaded and its bookie copy is gone", id)
		}
	}

	r.e.gw.Restart(t)
	// The retry: a new manual run, refused by nothing, succeeds.
	if st := r.e.offloadManually(t, ctx, r.topic, before); st.Status != "SUCCESS" {
		t.Fatalf("offload after the store came back: %+v", st)
	}
	r.e.waitOffloaded(t, ctx, r.topic, ledgers)
	r.e.waitBookieCopiesGone(t, ctx, r.topic, ledgers)
	r.e.checkBucketMatchesRecord(t, ctx, r.topic)
	r.checkAllDelivered(t, ctx, r.client)
}

// errContains reports whether s mentions one of words (case-insensitive).
func errContains(s string, words ...string) bool {
	s = strings.ToLower(s)
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// TestTieredFaultS3DownDuringCatchUp: a consumer catches up through offloaded ledgers
// whose bookie copies are gone while versitygw is down. Nothing is delivered then —
// never wrong bytes, never a hang of the broker: the read-error counter rises and
// get-message-by-id answers an error naming the store — and once the server is back
// the consumer, without being touched, gets every acknowledged message, intact and in
// order.
func TestTieredFaultS3DownDuringCatchUp(t *testing.T) {
	ctx := testCtx(t)
	r := startFaultRig(t, ctx, 200, "--offload-deletion-lag", "0s")
	before := r.lastAckedLedger(t)
	ledgers := r.closedLedgersBefore(t, ctx, before)
	if st := r.e.offloadManually(t, ctx, r.topic, before); st.Status != "SUCCESS" {
		t.Fatalf("manual offload: %+v", st)
	}
	r.e.waitOffloaded(t, ctx, r.topic, ledgers)
	r.e.waitBookieCopiesGone(t, ctx, r.topic, ledgers)
	// A restart empties the broker's caches (recent entries, offloaded blocks): the
	// only copy of the offloaded ledgers is then the store's. The producer rides it out.
	r.s.Restart()

	r.e.gw.Stop()
	errorsBefore := metricSum(getMetrics(t, r.s.HTTPURL), "brk_ledgeroffloader_read_offload_error")
	receipts := queuecheck.NewReceipts()
	cons := queuecheck.StartConsumer(t, queuecheck.ConsumerConfig{Client: r.client, Topic: r.topic,
		Subscription: "catch-up", Receipts: receipts})
	waitMetrics(t, r.s.HTTPURL, "failed reads of offloaded ledgers", func(m scrape) bool {
		return metricSum(m, "brk_ledgeroffloader_read_offload_error") > errorsBefore
	})
	code, body := rawAdmin(t, http.MethodGet, fmt.Sprintf("%s/admin/v2/persistent/%s/ledger/%d/entry/0",
		r.e.httpURL, topicPath(r.topic), ledgers[0]), "")
	if code < 500 || !errContains(body, "s3", "store", "offload") {
		t.Fatalf("get-message-by-id of an offloaded entry with the store down: HTTP %d %s; want a 5xx naming the store", code, body)
	}
	t.Logf("get-message-by-id with the store down: HTTP %d %.300s", code, body)
	if n := receipts.Len(); n != 0 {
		t.Fatalf("%d messages delivered while the only copy of the first ledger was unreachable", n)
	}

	r.e.gw.Restart(t)
	if err := r.prod.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := queuecheck.WaitConsumed(wctx, r.sends, receipts); err != nil {
		t.Fatal(err)
	}
	cons.Stop()
	if rep := queuecheck.Check(r.sends, receipts, queuecheck.Options{Ordered: true}); !rep.OK() {
		t.Fatalf("queue check: %s", rep)
	} else {
		t.Logf("queue check: %s", rep)
	}
}

// getByID fetches (ledger, entry) through the admin REST (get-message-by-id) and
// returns the HTTP status, the payload on success, and the body otherwise.
func (r *faultRig) getByID(t *testing.T, ledger, entry int64) (int, []byte, string) {
	t.Helper()
	m, err := r.e.adm.Subscriptions().GetMessageByID(adminTopicName(t, r.topic), ledger, entry)
	if err != nil {
		return adminStatus(err), nil, err.Error()
	}
	return http.StatusOK, m.Payload, ""
}

// TestTieredFaultFlippedByte: one byte of a data block of an offloaded ledger is
// flipped in versitygw's file. While the bookies still hold that ledger, the CRC
// mismatch is detected and every read is served from the bookies: the queue checker
// sees every acknowledged message intact. Once the deletion lag removed the bookie
// copies, reads of that ledger fail with an error that names the corruption — the
// consumer gets nothing of it, get-message-by-id answers an error — and never a wrong
// byte, while the intact ledgers still read back.
func TestTieredFaultFlippedByte(t *testing.T) {
	ctx := testCtx(t)
	r := startFaultRig(t, ctx, 100, "--offload-deletion-lag", "-1s")
	before := r.lastAckedLedger(t)
	ledgers := r.closedLedgersBefore(t, ctx, before)
	if st := r.e.offloadManually(t, ctx, r.topic, before); st.Status != "SUCCESS" {
		t.Fatalf("manual offload: %+v", st)
	}
	r.e.waitOffloaded(t, ctx, r.topic, ledgers)
	bad := ledgers[0]
	var file string
	for _, o := range r.e.bucketObjects(t) {
		if o.Ledger == bad {
			file = o.Path
		}
	}
	if file == "" {
		t.Fatalf("no object of ledger %d in %v", bad, r.e.bucketObjects(t))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Past the 16-byte header, inside the first entry of block 0 (docs/format/offload.md).
	const at = 16 + 100
	b[at] ^= 0x5a
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Empty the broker's caches, so the next reads go to the store.
	r.s.Restart()
	errorsBefore := metricSum(getMetrics(t, r.s.HTTPURL), "brk_ledgeroffloader_read_offload_error")

	// The bookies hold every ledger: the corrupt block is detected and the bookies serve.
	r.checkAllDelivered(t, ctx, r.client)
	waitMetrics(t, r.s.HTTPURL, "the corrupt block counted as a failed read", func(m scrape) bool {
		return metricSum(m, "brk_ledgeroffloader_read_offload_error") > errorsBefore
	})
	byID := queuecheck.NewReceipts()
	if code, p, body := r.getByID(t, bad, 0); code != http.StatusOK {
		t.Fatalf("get-message-by-id %d:0 with the bookie copy present: HTTP %d %s", bad, code, body)
	} else {
		byID.Record(p, fmt.Sprintf("%d:0", bad))
	}

	// Now the bookie copies go: the corrupt ledger has no good copy left.
	r.e.setNamespaceOffload(t, "public/default", "offloadDeletionLagMs", 0)
	r.e.waitBookieCopiesGone(t, ctx, r.topic, ledgers)
	code, _, body := r.getByID(t, bad, 0)
	if code < 500 || !errContains(body, "checksum", "crc", "corrupt") {
		t.Fatalf("get-message-by-id %d:0 from the corrupt object alone: HTTP %d %s; want a 5xx naming the corruption", bad, code, body)
	}
	t.Logf("get-message-by-id from the corrupt object: HTTP %d %.300s", code, body)
	good := ledgers[1]
	if code, p, body := r.getByID(t, good, 3); code != http.StatusOK {
		t.Fatalf("get-message-by-id %d:3 of an intact offloaded ledger: HTTP %d %s", good, code, body)
	} else {
		byID.Record(p, fmt.Sprintf("%d:3", good))
	}
	if rep := queuecheck.Check(r.sends, byID, queuecheck.Options{}); rep.Corrupt != nil || rep.Phantoms != nil {
		t.Fatalf("get-message-by-id returned wrong bytes: %s", rep)
	}

	// A new subscription from the start meets the corrupt ledger first: nothing of it
	// is delivered, and what is delivered (nothing, as dispatch is in order) is intact.
	errorsBefore = metricSum(getMetrics(t, r.s.HTTPURL), "brk_ledgeroffloader_read_offload_error")
	receipts := queuecheck.NewReceipts()
	cons := queuecheck.StartConsumer(t, queuecheck.ConsumerConfig{Client: r.client, Topic: r.topic,
		Subscription: "after-the-lag", Receipts: receipts})
	waitMetrics(t, r.s.HTTPURL, "the dispatcher's failed read of the corrupt block", func(m scrape) bool {
		return metricSum(m, "brk_ledgeroffloader_read_offload_error") > errorsBefore
	})
	cons.Stop()
	rep := queuecheck.Check(r.sends, receipts, queuecheck.Options{Ordered: true})
	if rep.Consumed != 0 || rep.Corrupt != nil || rep.Phantoms != nil {
		t.Fatalf("with only a corrupt copy of the first ledger the consumer got: %s", rep)
	}
}

// TestTieredFaultBrokerKilledMidUpload: the owner of a topic is SIGKILLed in the
// middle of an offload — after it recorded the attempt (state begun) and uploaded the
// object, before it could record the offload complete. That window is held open by
// blackholing the broker's path to etcd once the attempt is recorded, so the crash
// leaves a real orphan: an object the record does not name as complete. The broker
// restarts on the same addresses; the next offload deletes the orphan before it
// uploads again, the bucket ends with exactly one object per offloaded ledger (the
// record's), and the queue checker reads every acknowledged message back — while a
// producer sent through the whole fault.
func TestTieredFaultBrokerKilledMidUpload(t *testing.T) {
	ctx := testCtx(t)
	// A slow copy (about 1 s a ledger of 8 KiB) keeps the first upload in flight long
	// enough to blackhole etcd behind it.
	e, c := startTieredCluster(t, "--offload-max-bytes-per-second", "8000")
	client := newClient(t, c.ServiceURL())
	r := &faultRig{e: e, client: client, topic: uniqueTopic(t), sends: queuecheck.NewSends()}
	subscribe(t, client, pulsar.ConsumerOptions{Topic: r.topic, SubscriptionName: "hold",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest}).Close()
	r.prod = queuecheck.StartProducer(t, queuecheck.ProducerConfig{Client: client, Topic: r.topic, Name: "p",
		Sends: r.sends, Rate: 20, PayloadSize: 1024, Seed: testenv.Seed(t),
		Options: pulsar.ProducerOptions{DisableBatching: true, SendTimeout: time.Minute}})
	if err := r.sends.WaitAcked(ctx, 5*tieredLedgerEntries+2); err != nil {
		t.Fatal(err)
	}
	before := r.lastAckedLedger(t)
	ledgers := r.closedLedgersBefore(t, ctx, before)
	first := ledgers[0]

	owner, _ := e.owner(t, ctx, c, r.topic)
	e.httpURL = owner.HTTPURL
	if code, body := e.triggerOffload(t, r.topic, before); code != http.StatusNoContent {
		t.Fatalf("PUT offload: HTTP %d %s", code, body)
	}
	var attempt string
	pollUntil(t, ctx, 30*time.Second, fmt.Sprintf("offload of ledger %d begun", first), func() (bool, string) {
		li := findLedger(e.record(t, ctx, r.topic), first)
		if li != nil && li.Offload != nil && li.Offload.State == "begun" {
			attempt = li.Offload.UUID
			return true, ""
		}
		return false, fmt.Sprintf("%+v", li)
	})
	owner.EtcdProxy.Blackhole()
	pollUntil(t, ctx, 30*time.Second, fmt.Sprintf("object of attempt %s uploaded", attempt), func() (bool, string) {
		objs := e.bucketObjects(t)
		for _, o := range objs {
			if o.Ledger == first && o.UUID == attempt {
				return true, ""
			}
		}
		return false, fmt.Sprint(objs)
	})
	// Cut drops the held bytes (the completing write among them) with the
	// connections, so that they never reach etcd; a Restore alone would deliver them.
	owner.EtcdProxy.Cut()
	owner.Kill()
	owner.EtcdProxy.Restore()
	if li := findLedger(e.record(t, ctx, r.topic), first); li.Offload == nil || li.Offload.State != "begun" || li.Offload.UUID != attempt {
		t.Fatalf("after the crash the record says %+v, want attempt %s begun", li.Offload, attempt)
	}
	owner.Restart()

	// Whoever owns the topic now offloads again on request: the orphan goes first.
	pollUntil(t, ctx, 30*time.Second, "an owner of "+r.topic, func() (bool, string) {
		u, err := lookupOwner(ctx, owner.HTTPURL, r.topic)
		return err == nil, fmt.Sprintf("%q, %v", u, err)
	})
	var st offloadStatus
	pollUntil(t, ctx, 60*time.Second, "offload after the restart", func() (bool, string) {
		code, body := e.triggerOffload(t, r.topic, before)
		if code != http.StatusNoContent && code != http.StatusConflict {
			return false, fmt.Sprintf("HTTP %d %s", code, body)
		}
		st = e.waitOffloadDone(t, ctx, r.topic)
		return true, ""
	})
	if st.Status != "SUCCESS" {
		t.Fatalf("offload after the restart: %+v", st)
	}
	e.waitOffloaded(t, ctx, r.topic, ledgers)
	li := findLedger(e.record(t, ctx, r.topic), first)
	if li.Offload.UUID == attempt {
		t.Fatalf("ledger %d is recorded under the crashed attempt %s", first, attempt)
	}
	e.checkBucketMatchesRecord(t, ctx, r.topic) // the orphan of attempt is gone
	e.waitBookieCopiesGone(t, ctx, r.topic, ledgers)
	r.checkAllDelivered(t, ctx, client)
}
