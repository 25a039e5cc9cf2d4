package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/e2e/harness"
	"github.com/strata-io/strata/metadata"
	"github.com/strata-io/strata/tiered/s3/s3test"
)

// The TestTiered* tests: tiered storage end to end (issue 11), with the real strata
// binary offloading to a real S3-compatible server (versitygw, tiered/s3/s3test) and the
// real Pulsar Go client reading back. Every wait polls observable state — the offload
// status, internal stats, the managed-ledger record and ledger metadata in etcd, the
// bucket's files on versitygw's disk — with a deadline.

// tieredLedgerEntries is the --max-entries-per-ledger of these tests: small, so that a
// few dozen messages make the ≥ 5 closed ledgers the issue asks for.
const tieredLedgerEntries = 8

// tieredEnv is one offloading Strata (a standalone, or a cluster's brokers) with its
// versitygw bucket and the test's view of etcd.
type tieredEnv struct {
	gw      *s3test.Server
	bucket  string
	store   *metadata.Store // etcd, to read managed-ledger records and ledger metadata
	httpURL string          // the admin REST of a broker (any: others redirect)
	adm     pulsaradmin.Client
}

// s3OffloadArgs are the broker flags that offload to bucket on gw.
func s3OffloadArgs(gw *s3test.Server, bucket string) []string {
	args := []string{"--offload-driver", "s3",
		"--offload-s3-endpoint", gw.Endpoint,
		"--offload-s3-bucket", bucket,
		"--offload-s3-region", s3test.Region,
		"--offload-s3-access-key", s3test.AccessKey,
		"--offload-s3-secret-key", s3test.SecretKey,
		"--offload-prefix", "strata"}
	if gw.CAFile != "" {
		args = append(args, "--offload-s3-ca-file", gw.CAFile)
	}
	return args
}

// startTieredStandalone starts versitygw (over HTTPS when tls is set) and a standalone
// offloading to a fresh bucket on it, rolling over every tieredLedgerEntries entries,
// with extra flags appended (later flags win).
func startTieredStandalone(t *testing.T, tls bool, extra ...string) (*tieredEnv, *harness.Standalone) {
	t.Helper()
	gw := s3test.Start(t, tls)
	bucket := gw.NewBucket(t)
	etcdAddr := harness.FreePort(t)
	args := append([]string{"--etcd-listen", etcdAddr,
		"--max-entries-per-ledger", strconv.Itoa(tieredLedgerEntries)}, s3OffloadArgs(gw, bucket)...)
	s := harness.StartStandalone(t, testDir(t), append(args, extra...)...)
	store, err := metadata.Open(metadata.Config{Endpoints: []string{"http://" + etcdAddr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &tieredEnv{gw: gw, bucket: bucket, store: store, httpURL: s.HTTPURL, adm: newAdmin(t, s.HTTPURL)}, s
}

// tieredPayloads are n distinct payloads of about 1 KiB: an index, then random bytes
// from the test's seed (so a wrong block or a wrong offset cannot match by accident).
func tieredPayloads(t *testing.T, n int) []string {
	t.Helper()
	noise := randomBytes(t, n*1024)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("tiered-%04d|", i) + string(noise[i*1024:(i+1)*1024])
	}
	return out
}

// produceLedgers sends payloads unbatched, one entry each, so that they fill
// len(payloads)/tieredLedgerEntries ledgers, and returns their ids. A durable
// subscription that never acknowledges ("hold") is created first: without one the
// default retention (none) would delete the closed ledgers at once.
func produceLedgers(t *testing.T, ctx context.Context, c pulsar.Client, topic string, payloads []string) []pulsar.MessageID {
	t.Helper()
	subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "hold",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest}).Close()
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	ids := send(t, ctx, p, payloads...)
	p.Close()
	return ids
}

// pollUntil polls cond — another process's state, which offers no event to wait on —
// every 50 ms until it holds, failing the test with cond's last word after within.
func pollUntil(t *testing.T, ctx context.Context, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: still not true after %s; last: %s", what, within, last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topicPath is "tenant/ns/topic" of a persistent topic name, for REST paths.
func topicPath(topic string) string { return strings.TrimPrefix(topic, "persistent://") }

// offloadStatus is Pulsar's OffloadProcessStatus, as GET …/offload answers it.
type offloadStatus struct {
	Status                  string `json:"status"`
	LastError               string `json:"lastError"`
	FirstUnoffloadedMessage struct {
		LedgerID int64 `json:"ledgerId"`
		EntryID  int64 `json:"entryId"`
	} `json:"firstUnoffloadedMessage"`
}

// triggerOffload asks (PUT …/offload, Pulsar's REST, with a MessageId) to offload every
// ledger before ledger, and returns the HTTP status and body.
func (e *tieredEnv) triggerOffload(t *testing.T, topic string, ledger int64) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"ledgerId":%d,"entryId":0,"partitionIndex":-1}`, ledger)
	return rawAdmin(t, http.MethodPut, e.httpURL+"/admin/v2/persistent/"+topicPath(topic)+"/offload", body)
}

func (e *tieredEnv) offloadStatus(t *testing.T, topic string) offloadStatus {
	t.Helper()
	code, body := rawAdmin(t, http.MethodGet, e.httpURL+"/admin/v2/persistent/"+topicPath(topic)+"/offload", "")
	if code != http.StatusOK {
		t.Fatalf("GET offload status of %s: HTTP %d %s", topic, code, body)
	}
	var st offloadStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("offload status %q: %v", body, err)
	}
	return st
}

// offloadManually triggers an offload of every ledger before ledger and waits for the
// status to leave RUNNING; it returns the final status.
func (e *tieredEnv) offloadManually(t *testing.T, ctx context.Context, topic string, ledger int64) offloadStatus {
	t.Helper()
	if code, body := e.triggerOffload(t, topic, ledger); code != http.StatusNoContent {
		t.Fatalf("PUT offload of %s: HTTP %d %s", topic, code, body)
	}
	return e.waitOffloadDone(t, ctx, topic)
}

// waitOffloadDone waits for a manual offload of topic to end (SUCCESS or ERROR).
func (e *tieredEnv) waitOffloadDone(t *testing.T, ctx context.Context, topic string) offloadStatus {
	t.Helper()
	var st offloadStatus
	pollUntil(t, ctx, 60*time.Second, "offload of "+topic+" ends", func() (bool, string) {
		st = e.offloadStatus(t, topic)
		return st.Status == "SUCCESS" || st.Status == "ERROR", st.Status
	})
	return st
}

// record reads topic's managed-ledger record from etcd.
func (e *tieredEnv) record(t *testing.T, ctx context.Context, topic string) managedledger.Info {
	t.Helper()
	v, err := e.store.Get(ctx, e.store.Keys.ManagedLedger(topic))
	if err != nil {
		t.Fatalf("managed-ledger record of %s: %v", topic, err)
	}
	var in managedledger.Info
	if err := json.Unmarshal(v.Data, &in); err != nil {
		t.Fatalf("managed-ledger record of %s: %v", topic, err)
	}
	return in
}

// offloadedStorageSize is the topic stats' offloadedStorageSize (pulsaradmin's
// TopicStats lacks the field).
func (e *tieredEnv) offloadedStorageSize(t *testing.T, topic string) int64 {
	t.Helper()
	code, body := rawAdmin(t, http.MethodGet, e.httpURL+"/admin/v2/persistent/"+topicPath(topic)+"/stats", "")
	if code != http.StatusOK {
		t.Fatalf("stats of %s: HTTP %d %s", topic, code, body)
	}
	var st struct {
		OffloadedStorageSize *int64 `json:"offloadedStorageSize"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.OffloadedStorageSize == nil {
		t.Fatalf("stats of %s without offloadedStorageSize (%v): %s", topic, err, body)
	}
	return *st.OffloadedStorageSize
}

// metricSum adds up every series of the metric name in m, whatever their labels.
func metricSum(m scrape, name string) float64 {
	var sum float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			sum += v
		}
	}
	return sum
}

// ledgerExists reports whether ledger id's metadata is still in etcd: the bookie
// ledger is deleted with it.
func (e *tieredEnv) ledgerExists(t *testing.T, ctx context.Context, id int64) bool {
	t.Helper()
	_, err := e.store.Get(ctx, e.store.Keys.Ledger(id))
	if errors.Is(err, metadata.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// ledgersOf are the distinct ledgers of ids, in order.
func ledgersOf(ids []pulsar.MessageID) []int64 {
	var out []int64
	for _, id := range ids {
		if len(out) == 0 || out[len(out)-1] != id.LedgerID() {
			out = append(out, id.LedgerID())
		}
	}
	return out
}

// offloadedLedgers are the ledgers internal stats mark "offloaded" (Pulsar's field).
func (e *tieredEnv) offloadedLedgers(t *testing.T, topic string) []int64 {
	t.Helper()
	is, err := e.adm.Topics().GetInternalStats(adminTopicName(t, topic))
	if err != nil {
		t.Fatalf("internal stats of %s: %v", topic, err)
	}
	var out []int64
	for _, l := range is.Ledgers {
		if l.Offloaded {
			out = append(out, l.LedgerID)
		}
	}
	return out
}

// waitOffloaded waits until internal stats mark every ledger of want offloaded.
func (e *tieredEnv) waitOffloaded(t *testing.T, ctx context.Context, topic string, want []int64) {
	t.Helper()
	pollUntil(t, ctx, 60*time.Second, fmt.Sprintf("ledgers %v of %s offloaded", want, topic), func() (bool, string) {
		got := e.offloadedLedgers(t, topic)
		for _, id := range want {
			if !slices.Contains(got, id) {
				return false, fmt.Sprintf("offloaded: %v", got)
			}
		}
		return true, ""
	})
}

// waitBookieCopiesGone waits until the record says the bookie copy of every ledger of
// ids is deleted and the ledgers' metadata is gone from etcd (the deletion lag passed).
func (e *tieredEnv) waitBookieCopiesGone(t *testing.T, ctx context.Context, topic string, ids []int64) {
	t.Helper()
	pollUntil(t, ctx, 60*time.Second, fmt.Sprintf("bookie copies of %v deleted", ids), func() (bool, string) {
		in := e.record(t, ctx, topic)
		for _, id := range ids {
			li := findLedger(in, id)
			if li == nil || li.Offload == nil || !li.Offload.BookieDeleted {
				return false, fmt.Sprintf("ledger %d: %+v", id, li)
			}
			if e.ledgerExists(t, ctx, id) {
				return false, fmt.Sprintf("ledger %d still has bookie metadata", id)
			}
		}
		return true, ""
	})
}

func findLedger(in managedledger.Info, id int64) *managedledger.LedgerInfo {
	for i := range in.Ledgers {
		if in.Ledgers[i].ID == id {
			return &in.Ledgers[i]
		}
	}
	return nil
}

// bucketObject is one object of the bucket, as a file of versitygw's POSIX root.
type bucketObject struct {
	Key    string // the object key
	Path   string // its file
	Ledger int64
	UUID   string
}

// bucketObjects lists the offloaded-ledger objects of the bucket from versitygw's
// directory (posix mode keeps an object as the file <root>/<bucket>/<key>), skipping
// its own hidden working directories.
func (e *tieredEnv) bucketObjects(t *testing.T) []bucketObject {
	t.Helper()
	root := filepath.Join(e.gw.Root, e.bucket)
	var out []bucketObject
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		key, _ := filepath.Rel(root, p)
		o := bucketObject{Key: filepath.ToSlash(key), Path: p}
		idStr, uuid, _ := strings.Cut(d.Name(), "-")
		o.Ledger, _ = strconv.ParseInt(idStr, 10, 64)
		o.UUID = uuid
		out = append(out, o)
		return nil
	})
	if err != nil {
		t.Fatalf("listing bucket %s: %v", e.bucket, err)
	}
	return out
}

// checkBucketMatchesRecord checks that the bucket holds exactly one object per
// offloaded ledger of topic's record, named by its complete attempt's UUID: no orphan
// of an earlier attempt is left.
func (e *tieredEnv) checkBucketMatchesRecord(t *testing.T, ctx context.Context, topic string) {
	t.Helper()
	in := e.record(t, ctx, topic)
	want := map[int64]string{}
	for _, li := range in.Ledgers {
		if li.Offload.Complete() {
			want[li.ID] = li.Offload.UUID
		}
	}
	objs := e.bucketObjects(t)
	if len(objs) != len(want) {
		t.Fatalf("bucket holds %d objects %v; the record has %d offloaded ledgers %v", len(objs), objs, len(want), want)
	}
	for _, o := range objs {
		if want[o.Ledger] != o.UUID {
			t.Fatalf("object %s: the record's offload of ledger %d is %q", o.Key, o.Ledger, want[o.Ledger])
		}
	}
}

// readBackEverything reads the whole topic back through every read path the issue
// names — a new subscription from earliest, a reader from earliest, a seek into the
// middle of an offloaded ledger, and get-message-by-id — and checks each message
// byte-equal and in order. seekTo indexes the message to seek to; it must sit in an
// offloaded ledger.
func readBackEverything(t *testing.T, ctx context.Context, c pulsar.Client, adm pulsaradmin.Client, topic string,
	payloads []string, ids []pulsar.MessageID, seekTo int) {
	t.Helper()
	sub := fmt.Sprintf("readback-%d", time.Now().UnixNano())
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: sub,
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
	got := expectPayloads(t, ctx, cons, payloads)
	for i, m := range got {
		if idKey(m.ID()) != idKey(ids[i]) {
			t.Fatalf("subscription: message %d has id %v, sent as %v", i, m.ID(), ids[i])
		}
	}
	// Seek back into an offloaded ledger: everything from there again, in order. The
	// broker restarts at the target; the v0.19 client drops the target itself
	// (TestMessagingSeek).
	if err := cons.Seek(ids[seekTo]); err != nil {
		t.Fatalf("seek to %v: %v", ids[seekTo], err)
	}
	expectPayloads(t, ctx, cons, payloads[seekTo+1:])
	cons.Close()

	r := newReader(t, c, pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	for i, want := range payloads {
		m := readNext(t, ctx, r)
		if string(m.Payload()) != want {
			t.Fatalf("reader: message %d: got %.20q…, want %.20q…", i, m.Payload(), want)
		}
	}
	r.Close()

	tn := adminTopicName(t, topic)
	for i, id := range ids {
		m, err := adm.Subscriptions().GetMessageByID(tn, id.LedgerID(), id.EntryID())
		if err != nil {
			t.Fatalf("get message %v by id: %v", id, err)
		}
		if string(m.Payload) != payloads[i] {
			t.Fatalf("get message %v by id: got %.20q…, want %.20q…", id, m.Payload, payloads[i])
		}
	}
}

// TestTieredManualOffloadS3: a topic of 6 closed ledgers offloaded to versitygw by the
// manual trigger; internal stats mark them offloaded, their bookie copies go after the
// deletion lag, and every read path returns every message byte-equal and in order —
// from the object store only — before and after the standalone restarts.
func TestTieredManualOffloadS3(t *testing.T) {
	ctx := testCtx(t)
	e, s := startTieredStandalone(t, false, "--offload-deletion-lag", "1s")
	c := newClient(t, s.PulsarURL)
	topic := uniqueTopic(t)
	payloads := tieredPayloads(t, 6*tieredLedgerEntries+3)
	ids := produceLedgers(t, ctx, c, topic, payloads)
	ledgers := ledgersOf(ids)
	if len(ledgers) < 7 {
		t.Fatalf("the messages went to %d ledgers %v, want ≥ 7 (6 closed)", len(ledgers), ledgers)
	}
	closed := ledgers[:len(ledgers)-1]

	// Before any offload, the status is NOT_RUN and no ledger is marked.
	if st := e.offloadStatus(t, topic); st.Status != "NOT_RUN" {
		t.Fatalf("status before any offload: %+v", st)
	}
	last := ids[len(ids)-1]
	st := e.offloadManually(t, ctx, topic, last.LedgerID())
	if st.Status != "SUCCESS" {
		t.Fatalf("manual offload: %+v", st)
	}
	if st.FirstUnoffloadedMessage.LedgerID != last.LedgerID() {
		t.Fatalf("firstUnoffloadedMessage %+v, want ledger %d (the current one)", st.FirstUnoffloadedMessage, last.LedgerID())
	}
	e.waitOffloaded(t, ctx, topic, closed)
	if got := e.offloadedLedgers(t, topic); !slices.Equal(got, closed) {
		t.Fatalf("internal stats mark %v offloaded, want exactly the closed ledgers %v", got, closed)
	}
	e.checkBucketMatchesRecord(t, ctx, topic)
	if size := e.offloadedStorageSize(t, topic); size < int64(len(closed)*tieredLedgerEntries*1024) {
		t.Fatalf("offloadedStorageSize = %d after offloading %d ledgers of %d KiB messages", size, len(closed), tieredLedgerEntries)
	}

	waitMetrics(t, s.HTTPURL, "pulsar_storage_offloaded_size > 0", func(m scrape) bool {
		return metricSum(m, "pulsar_storage_offloaded_size") > 0
	})

	e.waitBookieCopiesGone(t, ctx, topic, closed)
	readBackEverything(t, ctx, c, e.adm, topic, payloads, ids, 2*tieredLedgerEntries+3)
	if m := getMetrics(t, s.HTTPURL); metricSum(m, "brk_ledgeroffloader_read_offload_error") != 0 {
		t.Fatalf("read errors from the store on a healthy path: %v", metricSum(m, "brk_ledgeroffloader_read_offload_error"))
	}

	// A restart loses the broker's block cache and every open handle: the reads go to
	// the store afresh.
	s.Restart()
	readBackEverything(t, ctx, c, e.adm, topic, payloads, ids, 4*tieredLedgerEntries+5)
	if got := e.offloadedLedgers(t, topic); !slices.Equal(got, closed) {
		t.Fatalf("after the restart internal stats mark %v offloaded, want %v", got, closed)
	}
}

// setNamespaceOffload PUTs one of the namespace's single offload values (Pulsar's
// offloadThreshold, offloadThresholdInSeconds, offloadDeletionLagMs) through the REST.
func (e *tieredEnv) setNamespaceOffload(t *testing.T, ns, what string, v int64) {
	t.Helper()
	code, body := rawAdmin(t, http.MethodPut, e.httpURL+"/admin/v2/namespaces/"+ns+"/"+what, strconv.FormatInt(v, 10))
	if code/100 != 2 {
		t.Fatalf("PUT %s of %s = %d: HTTP %d %s", what, ns, v, code, body)
	}
}

// newNamespace creates public/<name>-<n> and returns it.
func (e *tieredEnv) newNamespace(t *testing.T, name string) string {
	t.Helper()
	ns := fmt.Sprintf("public/%s-%d", name, time.Now().UnixNano())
	if err := e.adm.Namespaces().CreateNamespace(ns); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	return ns
}

// ledgerSizes are the sizes of the topic's ledgers by id, from internal stats.
func (e *tieredEnv) ledgerSizes(t *testing.T, topic string) map[int64]int64 {
	t.Helper()
	is, err := e.adm.Topics().GetInternalStats(adminTopicName(t, topic))
	if err != nil {
		t.Fatalf("internal stats of %s: %v", topic, err)
	}
	out := map[int64]int64{}
	for _, l := range is.Ledgers {
		out[l.LedgerID] = l.Size
	}
	return out
}

// TestTieredOffloadByPolicy: offload with no manual trigger, by the namespace's
// thresholds. Size: offloadThreshold keeps the newest ledgers that fit on the bookies
// and offloads the rest, when the policy is set and again at the next rollover. Time:
// offloadThresholdInSeconds offloads, at a rollover, the ledgers closed longer ago than
// that, and not the one just closed. Everything reads back byte-equal.
func TestTieredOffloadByPolicy(t *testing.T) {
	e, s := startTieredStandalone(t, false)
	c := newClient(t, s.PulsarURL)

	t.Run("size", func(t *testing.T) {
		ctx := testCtx(t)
		ns := e.newNamespace(t, "offload-size")
		topic := uniqueTopicIn(t, ns)
		payloads := tieredPayloads(t, 7*tieredLedgerEntries)
		ids := produceLedgers(t, ctx, c, topic, payloads[:6*tieredLedgerEntries])
		ledgers := ledgersOf(ids) // 6 full ledgers; the 6th is current until one more add
		if len(ledgers) != 6 {
			t.Fatalf("%d messages went to ledgers %v, want 6", len(ids), ledgers)
		}
		if got := e.offloadedLedgers(t, topic); len(got) != 0 {
			t.Fatalf("offloaded %v with no threshold set", got)
		}
		// Keep the newest two closed ledgers (of 5 closed) on the bookies: the
		// threshold is their size, which the third newest takes past it.
		sizes := e.ledgerSizes(t, topic)
		e.setNamespaceOffload(t, ns, "offloadThreshold", sizes[ledgers[3]]+sizes[ledgers[4]])
		e.waitOffloaded(t, ctx, topic, ledgers[:3])
		// One ledger more: at its rollover the oldest kept one goes too.
		more := produceLedgers(t, ctx, c, topic, payloads[6*tieredLedgerEntries:])
		ids = append(ids, more...)
		e.waitOffloaded(t, ctx, topic, ledgers[:4])
		if got := e.offloadedLedgers(t, topic); !slices.Equal(got, ledgers[:4]) {
			t.Fatalf("offloaded %v, want %v: the two newest closed ledgers stay on the bookies", got, ledgers[:4])
		}
		readBackEverything(t, ctx, c, e.adm, topic, payloads, ids, tieredLedgerEntries+2)
	})

	t.Run("time", func(t *testing.T) {
		ctx := testCtx(t)
		ns := e.newNamespace(t, "offload-time")
		topic := uniqueTopicIn(t, ns)
		const age = 2 // seconds
		e.setNamespaceOffload(t, ns, "offloadThresholdInSeconds", age)
		payloads := tieredPayloads(t, 7*tieredLedgerEntries+1)
		ids := produceLedgers(t, ctx, c, topic, payloads[:6*tieredLedgerEntries])
		old := ledgersOf(ids) // the 6th full ledger closes at the next add
		// The threshold is an age, so the event to wait for is the clock passing it.
		sent := time.Now()
		for time.Since(sent) < age*time.Second {
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			case <-time.After(time.Until(sent.Add(age * time.Second))):
			}
		}
		// A rollover (the check's trigger) once the first five are old enough: they are
		// offloaded; the sixth, closed by this rollover, is not.
		more := produceLedgers(t, ctx, c, topic, payloads[6*tieredLedgerEntries:])
		ids = append(ids, more...)
		e.waitOffloaded(t, ctx, topic, old[:5])
		if got := e.offloadedLedgers(t, topic); !slices.Equal(got, old[:5]) {
			t.Fatalf("offloaded %v, want %v: a ledger closed less than %ds ago stays", got, old[:5], age)
		}
		readBackEverything(t, ctx, c, e.adm, topic, payloads, ids, 3*tieredLedgerEntries+1)
	})
}

// TestTieredIdleRolloverHTTPS: a quiet topic offloads too. With --offload-idle-rollover
// and a namespace threshold of 0 (offload every closed ledger), a current ledger that
// takes no more adds is rolled over, closed and offloaded with no further publishing;
// its bookie copy goes after the lag and the messages read back byte-equal from the
// store — here over HTTPS with the test's CA.
func TestTieredIdleRolloverHTTPS(t *testing.T) {
	ctx := testCtx(t)
	e, s := startTieredStandalone(t, true, "--offload-idle-rollover", "1s", "--offload-deletion-lag", "0s")
	c := newClient(t, s.PulsarURL)
	ns := e.newNamespace(t, "offload-idle")
	e.setNamespaceOffload(t, ns, "offloadThreshold", 0)
	topic := uniqueTopicIn(t, ns)
	payloads := tieredPayloads(t, 5*tieredLedgerEntries+3)
	ids := produceLedgers(t, ctx, c, topic, payloads)
	ledgers := ledgersOf(ids)
	if len(ledgers) != 6 {
		t.Fatalf("%d messages went to ledgers %v, want 6", len(ids), ledgers)
	}
	// The sixth ledger, with 3 entries, is the current one: nothing more is published,
	// and it is offloaded all the same.
	e.waitOffloaded(t, ctx, topic, ledgers)
	e.waitBookieCopiesGone(t, ctx, topic, ledgers)
	e.checkBucketMatchesRecord(t, ctx, topic)
	readBackEverything(t, ctx, c, e.adm, topic, payloads, ids, 5*tieredLedgerEntries+1)
}

// lookupOwner asks the broker at httpURL which broker serves topic (Pulsar's HTTP
// lookup) and returns its pulsar:// URL.
func lookupOwner(ctx context.Context, httpURL, topic string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, httpURL+"/lookup/v2/topic/persistent/"+topicPath(topic), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("lookup: %s", resp.Status)
	}
	var out struct {
		BrokerURL string `json:"brokerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.BrokerURL, nil
}

// startTieredCluster starts versitygw and a cluster (etcd, 3 bookies, 2 brokers) whose
// brokers offload to one bucket on it, with a 1 s deletion lag.
func startTieredCluster(t *testing.T, extra ...string) (*tieredEnv, *harness.Cluster) {
	t.Helper()
	gw := s3test.Start(t, false)
	bucket := gw.NewBucket(t)
	args := append([]string{"--max-entries-per-ledger", strconv.Itoa(tieredLedgerEntries), "--offload-deletion-lag", "1s"},
		s3OffloadArgs(gw, bucket)...)
	c := harness.StartCluster(t, harness.ClusterOptions{Brokers: 2, LeaseTTL: 3 * time.Second, Dir: testDir(t),
		ExtraBrokerArgs: append(args, extra...)})
	b := c.Brokers[0]
	return &tieredEnv{gw: gw, bucket: bucket, store: c.Store, httpURL: b.HTTPURL, adm: newAdmin(t, b.HTTPURL)}, c
}

// owner returns the broker of c that serves topic, and another one.
func (e *tieredEnv) owner(t *testing.T, ctx context.Context, c *harness.Cluster, topic string) (owner, other *harness.Broker) {
	t.Helper()
	u, err := lookupOwner(ctx, c.Brokers[0].HTTPURL, topic)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range c.Brokers {
		if b.PulsarURL == u {
			return b, c.Brokers[(i+1)%len(c.Brokers)]
		}
	}
	t.Fatalf("lookup answered %s, not a broker of the cluster", u)
	return nil, nil
}

// TestTieredClusterOwnerKilled: in a cluster, a topic offloaded by its owner (bookie
// copies deleted after the lag) is read whole, byte-equal, from the other broker once
// the owner is SIGKILLed: the offload state lives in the managed-ledger record, not in
// the broker that wrote it.
func TestTieredClusterOwnerKilled(t *testing.T) {
	ctx := testCtx(t)
	e, c := startTieredCluster(t)
	client := newClient(t, c.ServiceURL())
	topic := uniqueTopic(t)
	payloads := tieredPayloads(t, 5*tieredLedgerEntries+2)
	ids := produceLedgers(t, ctx, client, topic, payloads)
	ledgers := ledgersOf(ids)
	closed := ledgers[:len(ledgers)-1]
	if len(closed) != 5 {
		t.Fatalf("%d messages went to ledgers %v, want 5 closed", len(ids), ledgers)
	}
	// The manual trigger through broker-1: it redirects to the owner when that is not
	// itself.
	if st := e.offloadManually(t, ctx, topic, ids[len(ids)-1].LedgerID()); st.Status != "SUCCESS" {
		t.Fatalf("manual offload: %+v", st)
	}
	e.waitOffloaded(t, ctx, topic, closed)
	e.waitBookieCopiesGone(t, ctx, topic, closed)

	owner, other := e.owner(t, ctx, c, topic)
	owner.Kill()
	e.httpURL, e.adm = other.HTTPURL, newAdmin(t, other.HTTPURL)
	// The survivor takes the topic over once the dead owner's lease expired (a lookup
	// before that still names the dead broker, and the client would give up on it).
	pollUntil(t, ctx, 30*time.Second, other.Name+" owns "+topic, func() (bool, string) {
		u, err := lookupOwner(ctx, other.HTTPURL, topic)
		return err == nil && u == other.PulsarURL, fmt.Sprintf("lookup: %q, %v", u, err)
	})
	survivor := newClient(t, other.PulsarURL)
	readBackEverything(t, ctx, survivor, e.adm, topic, payloads, ids, 2*tieredLedgerEntries+4)
	if got := e.offloadedLedgers(t, topic); !slices.Equal(got, closed) {
		t.Fatalf("on %s internal stats mark %v offloaded, want %v", other.Name, got, closed)
	}
}

// reasonOf is the "reason" of a Pulsar error body ("" when there is none).
func reasonOf(body string) string {
	var r struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal([]byte(body), &r) != nil {
		return ""
	}
	return r.Reason
}

// TestTieredBadInput: the offload admin surface refuses bad input with Pulsar's
// statuses and a reason — an unknown topic 404, malformed bodies and negative ids 400,
// negative thresholds and lags and unknown drivers 4xx — and records nothing: the
// namespace's policies, an offloaded topic's state and its reads are as before. A
// broker started with an unknown driver, or an S3 driver without a bucket, refuses to
// start, and one with offload off answers the trigger 412.
func TestTieredBadInput(t *testing.T) {
	ctx := testCtx(t)
	e, s := startTieredStandalone(t, false)
	c := newClient(t, s.PulsarURL)
	// A bystander: offloaded, read back after all the bad input.
	topic := uniqueTopic(t)
	payloads := tieredPayloads(t, 3*tieredLedgerEntries+1)
	ids := produceLedgers(t, ctx, c, topic, payloads)
	if st := e.offloadManually(t, ctx, topic, ids[len(ids)-1].LedgerID()); st.Status != "SUCCESS" {
		t.Fatalf("manual offload: %+v", st)
	}
	offloaded := e.offloadedLedgers(t, topic)
	ns := e.newNamespace(t, "offload-bad")
	recordBefore := e.record(t, ctx, topic)

	v2 := e.httpURL + "/admin/v2"
	unknown := "persistent/public/default/no-such-topic"
	tp := "persistent/" + topicPath(topic)
	nsp := "namespaces/" + ns
	cases := []struct {
		name, method, path, body string
		want                     int // exact status; 0: any 4xx
	}{
		{"trigger on an unknown topic", http.MethodPut, unknown + "/offload", `{"ledgerId":1,"entryId":0,"partitionIndex":-1}`, 404},
		{"status of an unknown topic", http.MethodGet, unknown + "/offload", ``, 404},
		{"topic policies of an unknown topic", http.MethodPost, unknown + "/offloadPolicies", `{"managedLedgerOffloadDriver":"s3","managedLedgerOffloadBucket":"b"}`, 404},
		{"trigger with bad JSON", http.MethodPut, tp + "/offload", `{"ledgerId":`, 400},
		{"trigger with a string id", http.MethodPut, tp + "/offload", `{"ledgerId":"x","entryId":0}`, 400},
		{"trigger with a negative ledger", http.MethodPut, tp + "/offload", `{"ledgerId":-5,"entryId":0,"partitionIndex":-1}`, 400},
		{"trigger with a negative entry", http.MethodPut, tp + "/offload", `{"ledgerId":5,"entryId":-2,"partitionIndex":-1}`, 400},
		{"negative size threshold", http.MethodPut, nsp + "/offloadThreshold", `-2`, 0},
		{"non-numeric size threshold", http.MethodPut, nsp + "/offloadThreshold", `"lots"`, 0},
		{"negative time threshold", http.MethodPut, nsp + "/offloadThresholdInSeconds", `-10`, 0},
		{"negative deletion lag", http.MethodPut, nsp + "/offloadDeletionLagMs", `-2`, 0},
		{"policies with bad JSON", http.MethodPost, nsp + "/offloadPolicies", `{"managedLedgerOffloadDriver":`, 0},
		{"empty policies", http.MethodPost, nsp + "/offloadPolicies", `{}`, 0},
		{"policies with an unknown driver", http.MethodPost, nsp + "/offloadPolicies", `{"managedLedgerOffloadDriver":"tape-robot"}`, 0},
		{"s3 policies without a bucket", http.MethodPost, nsp + "/offloadPolicies", `{"managedLedgerOffloadDriver":"s3"}`, 0},
		{"policies with a negative threshold", http.MethodPost, nsp + "/offloadPolicies", `{"managedLedgerOffloadDriver":"filesystem","managedLedgerOffloadThresholdInBytes":-7}`, 0},
		{"policies with a negative lag", http.MethodPost, nsp + "/offloadPolicies", `{"managedLedgerOffloadDriver":"filesystem","managedLedgerOffloadDeletionLagInMillis":-1}`, 0},
		{"policies with an unknown read priority", http.MethodPost, nsp + "/offloadPolicies", `{"managedLedgerOffloadDriver":"filesystem","managedLedgerOffloadedReadPriority":"FASTEST_FIRST"}`, 0},
		{"topic policies with an unknown driver", http.MethodPost, tp + "/offloadPolicies", `{"managedLedgerOffloadDriver":"tape-robot"}`, 0},
	}
	for _, tc := range cases {
		code, body := rawAdmin(t, tc.method, v2+"/"+tc.path, tc.body)
		if tc.want != 0 && code != tc.want || tc.want == 0 && code/100 != 4 {
			t.Errorf("%s: %s %s %s: HTTP %d %s; want %d", tc.name, tc.method, tc.path, tc.body, code, body, tc.want)
			continue
		}
		if tc.method != http.MethodGet && reasonOf(body) == "" {
			t.Errorf("%s: HTTP %d without a reason: %q", tc.name, code, body)
		}
	}

	// Nothing was recorded.
	for _, what := range []string{"offloadThreshold", "offloadThresholdInSeconds"} {
		code, body := rawAdmin(t, http.MethodGet, v2+"/"+nsp+"/"+what, "")
		if code != http.StatusOK || strings.TrimSpace(body) != "-1" {
			t.Errorf("GET %s of %s after refused writes: HTTP %d %s, want -1 (unset)", what, ns, code, body)
		}
	}
	for _, path := range []string{nsp + "/offloadDeletionLagMs", nsp + "/offloadPolicies", tp + "/offloadPolicies"} {
		code, body := rawAdmin(t, http.MethodGet, v2+"/"+path, "")
		if code != http.StatusOK || strings.TrimSpace(body) != "null" {
			t.Errorf("GET %s after refused writes: HTTP %d %s, want null (unset)", path, code, body)
		}
	}
	if st := e.offloadStatus(t, topic); st.Status != "SUCCESS" {
		t.Errorf("the bystander's offload status changed to %+v", st)
	}
	if got := e.offloadedLedgers(t, topic); !slices.Equal(got, offloaded) {
		t.Errorf("the bystander's offloaded ledgers changed from %v to %v", offloaded, got)
	}
	if after := e.record(t, ctx, topic); !reflect.DeepEqual(after, recordBefore) {
		b1, _ := json.Marshal(recordBefore)
		b2, _ := json.Marshal(after)
		t.Errorf("the bystander's record changed:\n%s\n%s", b1, b2)
	}
	if t.Failed() {
		return
	}
	readBackEverything(t, ctx, c, e.adm, topic, payloads, ids, tieredLedgerEntries+1)

	// Refused at start: an unknown driver, an S3 driver without a bucket.
	for _, args := range [][]string{
		{"--offload-driver", "tape-robot"},
		{"--offload-driver", "s3", "--offload-s3-endpoint", e.gw.Endpoint},
	} {
		dir := t.TempDir()
		full := append([]string{"standalone", "--data-dir", dir, "--listen", harness.FreePort(t), "--http", harness.FreePort(t)}, args...)
		out, code := harness.RunToExit(t, 30*time.Second, full...)
		if code == 0 || !errContains(out, "offload") {
			t.Errorf("strata %v: exit %d, output %q; want a refusal naming the offload setting", args, code, out)
		}
	}
	// Offload off: the trigger answers 412 with a reason, the status NOT_RUN.
	off := harness.StartStandalone(t, testDir(t), "--offload-driver", "none")
	offTopic := uniqueTopic(t)
	offIDs := produceLedgers(t, ctx, newClient(t, off.PulsarURL), offTopic, payloads[:2])
	offEnv := &tieredEnv{httpURL: off.HTTPURL}
	if code, body := offEnv.triggerOffload(t, offTopic, offIDs[1].LedgerID()+1); code != http.StatusPreconditionFailed || reasonOf(body) == "" {
		t.Errorf("trigger with offload off: HTTP %d %s, want 412 with a reason", code, body)
	}
}
