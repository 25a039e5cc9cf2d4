package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/broker/errcode"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/internal/testenv"
)

// offloadAPI is an admin API over a real broker service (embedded etcd, one in-process
// bookie) with public/default and topic persistent://public/default/t.
type offloadAPI struct {
	t   *testing.T
	ctx context.Context
	svc *service.Service
	srv *httptest.Server
}

func newOffloadAPI(t *testing.T) *offloadAPI {
	ctx := testenv.Context(t, time.Minute)
	c := bookietest.Start(t, "/adminoffload", 1)
	mlf := managedledger.NewFactory(c.Store, c.NewClient(), managedledger.Config{})
	svc := service.New(c.Store, mlf, service.Config{})
	t.Cleanup(func() { svc.Close(context.Background()) })
	if err := svc.Namespaces.Bootstrap(ctx, "standalone"); err != nil {
		t.Fatal(err)
	}
	name, _ := topic.Parse("t")
	if err := svc.CreateTopic(ctx, name); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	Register(mux, Config{Service: svc, Cluster: "standalone"})
	srv := httptest.NewServer(Guard(mux))
	t.Cleanup(srv.Close)
	return &offloadAPI{t: t, ctx: ctx, svc: svc, srv: srv}
}

// call sends body (nil: none) and returns the status and the trimmed response body.
func (a *offloadAPI) call(method, path, body string) (int, string) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(a.ctx, method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// expect asserts the status of a call, and that an error answer carries a reason.
func (a *offloadAPI) expect(method, path, body string, want int) string {
	a.t.Helper()
	code, got := a.call(method, path, body)
	if code != want {
		a.t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, code, got, want)
	}
	if code >= 400 {
		var e struct{ Reason string }
		if json.Unmarshal([]byte(got), &e) != nil || e.Reason == "" {
			a.t.Fatalf("%s %s: error answer without a reason: %s", method, path, got)
		}
	}
	return got
}

// decode decodes a JSON answer into v.
func (a *offloadAPI) decode(body string, v any) {
	a.t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		a.t.Fatalf("answer %s: %v", body, err)
	}
}

func (a *offloadAPI) policies() resources.Policies {
	a.t.Helper()
	p, err := a.svc.Namespaces.Policies(a.ctx, "public/default")
	if err != nil {
		a.t.Fatal(err)
	}
	return p
}

const (
	nsPath    = "/admin/v2/namespaces/public/default"
	topicPath = "/admin/v2/persistent/public/default/t"
)

func TestNamespaceOffloadEndpoints(t *testing.T) {
	a := newOffloadAPI(t)

	// Unset single values read as -1; deletion lag as null.
	if got := a.expect("GET", nsPath+"/offloadThreshold", "", 200); got != "-1" {
		t.Fatalf("unset threshold = %s", got)
	}
	if got := a.expect("GET", nsPath+"/offloadThresholdInSeconds", "", 200); got != "-1" {
		t.Fatalf("unset time threshold = %s", got)
	}
	if got := a.expect("GET", nsPath+"/offloadDeletionLagMs", "", 200); got != "null" {
		t.Fatalf("unset deletion lag = %s", got)
	}
	a.expect("PUT", nsPath+"/offloadThreshold", "10485760", 204)
	a.expect("PUT", nsPath+"/offloadThresholdInSeconds", "0", 204)
	a.expect("PUT", nsPath+"/offloadDeletionLagMs", "600000", 204)
	if got := a.expect("GET", nsPath+"/offloadThreshold", "", 200); got != "10485760" {
		t.Fatalf("threshold = %s", got)
	}
	if got := a.expect("GET", nsPath+"/offloadThresholdInSeconds", "", 200); got != "0" {
		t.Fatalf("time threshold = %s", got)
	}
	if got := a.expect("GET", nsPath+"/offloadDeletionLagMs", "", 200); got != "600000" {
		t.Fatalf("deletion lag = %s", got)
	}

	// Bad input: 4xx with a reason, the record untouched.
	before := a.policies()
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/offloadThreshold", "-2", 412},
		{"PUT", "/offloadThreshold", "ten", 400},
		{"PUT", "/offloadThreshold", "", 400},
		{"PUT", "/offloadThresholdInSeconds", "-7", 412},
		{"PUT", "/offloadDeletionLagMs", "-2", 412},
		{"PUT", "/offloadDeletionLagMs", "1.5", 400},
		{"POST", "/offloadPolicies", `{"managedLedgerOffloadDriver":`, 400},
		{"POST", "/offloadPolicies", "", 412},
		{"POST", "/offloadPolicies", "{}", 412},
		{"POST", "/offloadPolicies", `{"managedLedgerOffloadDriver":"google-cloud-storage","managedLedgerOffloadBucket":"b"}`, 412},
		{"POST", "/offloadPolicies", `{"managedLedgerOffloadDriver":"aws-s3"}`, 412},
		{"POST", "/offloadPolicies", `{"managedLedgerOffloadDriver":"filesystem","managedLedgerOffloadThresholdInBytes":-3}`, 412},
		{"POST", "/offloadPolicies", `{"managedLedgerOffloadDriver":"filesystem","managedLedgerOffloadedReadPriority":"random"}`, 412},
	} {
		a.expect(c.method, nsPath+c.path, c.body, c.want)
	}
	if after := a.policies(); !jsonEqual(t, before, after) {
		t.Fatalf("bad input changed the record: %+v, was %+v", after, before)
	}
	a.expect("GET", "/admin/v2/namespaces/public/nope/offloadThreshold", "", 404)

	// -1 unsets the single value.
	a.expect("PUT", nsPath+"/offloadThreshold", "-1", 204)
	if p := a.policies(); p.OffloadThreshold != nil {
		t.Fatalf("threshold -1 stored as %d", *p.OffloadThreshold)
	}

	// The policies object, with the broker.conf alias pulsaradmin sends.
	if got := a.expect("GET", nsPath+"/offloadPolicies", "", 200); got != "null" {
		t.Fatalf("unset offload policies = %s", got)
	}
	a.expect("POST", nsPath+"/offloadPolicies", `{"managedLedgerOffloadDriver":"S3","s3ManagedLedgerOffloadBucket":"cold",
		"managedLedgerOffloadAutoTriggerSizeThresholdBytes":1024,"managedLedgerOffloadedReadPriority":"bookkeeper-first",
		"managedLedgerOffloadMaxThreads":2}`, 204)
	var o resources.OffloadPolicies
	if err := json.Unmarshal([]byte(a.expect("GET", nsPath+"/offloadPolicies", "", 200)), &o); err != nil {
		t.Fatal(err)
	}
	if o.Driver != "s3" || o.S3Bucket != "cold" || o.ThresholdInBytes == nil || *o.ThresholdInBytes != 1024 ||
		o.ReadPriority != resources.ReadPriorityBookkeeperFirst || o.MaxThreads != 2 {
		t.Fatalf("offload policies read back as %+v", o)
	}
	// A single value set afterwards is the one in force: it updates the object too.
	a.expect("PUT", nsPath+"/offloadThreshold", "2048", 204)
	if p := a.policies(); *p.OffloadPolicies.ThresholdInBytes != 2048 || *p.Offload().ThresholdBytes != 2048 {
		t.Fatalf("threshold after PUT: object %d, effective %v", *p.OffloadPolicies.ThresholdInBytes, p.Offload())
	}
	a.expect("DELETE", nsPath+"/offloadDeletionLagMs", "", 204)
	if p := a.policies(); p.OffloadDeletionLagMs != nil || p.OffloadPolicies.DeletionLagInMillis != nil {
		t.Fatal("deletion lag still set after DELETE")
	}
	a.expect("PUT", nsPath+"/offloadDeletionLagMs", "5", 204)
	a.expect("PUT", nsPath+"/offloadDeletionLagMs", "-1", 204)
	if p := a.policies(); p.OffloadDeletionLagMs != nil {
		t.Fatal("deletion lag -1 stored as a value")
	}
	a.expect("DELETE", nsPath+"/removeOffloadPolicies", "", 204)
	if got := a.expect("GET", nsPath+"/offloadPolicies", "", 200); got != "null" {
		t.Fatalf("offload policies after remove = %s", got)
	}
	if p := a.policies(); p.OffloadThreshold == nil || *p.OffloadThreshold != 2048 {
		t.Fatal("removing the object removed the single threshold")
	}
	// The endpoints use Pulsar's methods: no POST offloadThreshold, no DELETE
	// offloadPolicies (the catch-all answers 404 with a reason).
	a.expect("POST", nsPath+"/offloadThreshold", "5", 404)
	a.expect("DELETE", nsPath+"/offloadPolicies", "", 404)
}

// A namespace created with a whole Pulsar policies body: Pulsar's defaults (-1) are
// unset, the offload fields are checked like their setters'.
func TestCreateNamespaceWithOffload(t *testing.T) {
	a := newOffloadAPI(t)
	a.expect("PUT", "/admin/v2/namespaces/public/bad", `{"offload_threshold":-5}`, 412)
	a.expect("PUT", "/admin/v2/namespaces/public/bad", `{"offload_policies":{"managedLedgerOffloadDriver":"azureblob"}}`, 412)
	a.expect("PUT", "/admin/v2/namespaces/public/bad", `{"offload_deletion_lag_ms":-3}`, 412)
	a.expect("GET", "/admin/v2/namespaces/public/bad/offloadThreshold", "", 404)
	a.expect("PUT", "/admin/v2/namespaces/public/cold", `{"offload_threshold":-1,"offload_threshold_in_seconds":-1,
		"offload_deletion_lag_ms":null,"offload_policies":{"managedLedgerOffloadDriver":"Filesystem"}}`, 204)
	p, err := a.svc.Namespaces.Policies(a.ctx, "public/cold")
	if err != nil {
		t.Fatal(err)
	}
	if p.OffloadThreshold != nil || p.OffloadThresholdInSeconds != nil || p.OffloadDeletionLagMs != nil ||
		p.OffloadPolicies == nil || p.OffloadPolicies.Driver != "filesystem" {
		t.Fatalf("created with %+v (offload policies %+v)", p, p.OffloadPolicies)
	}
}

func TestTopicOffloadEndpoints(t *testing.T) {
	a := newOffloadAPI(t)

	// Status before any run: Pulsar's OffloadProcessStatus shape.
	var st map[string]any
	if err := json.Unmarshal([]byte(a.expect("GET", topicPath+"/offload", "", 200)), &st); err != nil {
		t.Fatal(err)
	}
	first, _ := st["firstUnoffloadedMessage"].(map[string]any)
	if st["status"] != "NOT_RUN" || first == nil || first["partitionIndex"] != -1.0 || first["ledgerId"] != -1.0 ||
		first["entryId"] != -1.0 {
		t.Fatalf("offload status %v", st)
	}
	if _, ok := st["lastError"]; !ok {
		t.Fatalf("offload status without lastError: %v", st)
	}

	// Trigger: bad bodies are 400; an unknown topic is 404.
	a.expect("PUT", topicPath+"/offload", "", 400)
	a.expect("PUT", topicPath+"/offload", `{"ledgerId":"x"}`, 400)
	a.expect("PUT", topicPath+"/offload", `{"ledgerId":-1,"entryId":0,"partitionIndex":-1}`, 400)
	a.expect("PUT", "/admin/v2/persistent/public/default/missing/offload", `{"ledgerId":1,"entryId":0,"partitionIndex":-1}`, 404)
	a.expect("GET", "/admin/v2/persistent/public/default/missing/offload", "", 404)
	// This broker has no offload store: the managed ledger refuses, and the answer is
	// the error table's for that refusal (412, Pulsar's missing-offloader answer).
	a.expect("PUT", topicPath+"/offload", `{"ledgerId":1,"entryId":0,"partitionIndex":-1}`,
		errcode.HTTPStatus(managedledger.ErrOffloadDisabled))

	// Topic offload policies: the override, and ?applied=true the namespace's merged in.
	if got := a.expect("GET", topicPath+"/offloadPolicies", "", 200); got != "null" {
		t.Fatalf("unset topic offload policies = %s", got)
	}
	a.expect("POST", nsPath+"/offloadPolicies", `{"managedLedgerOffloadDriver":"filesystem","managedLedgerOffloadThresholdInSeconds":60}`, 204)
	a.expect("POST", topicPath+"/offloadPolicies", `{"managedLedgerOffloadThresholdInBytes":0}`, 204)
	a.expect("POST", topicPath+"/offloadPolicies", `{"managedLedgerOffloadDriver":"azureblob"}`, 412)
	a.expect("POST", topicPath+"/offloadPolicies", `{}`, 412)
	a.expect("POST", topicPath+"/offloadPolicies", `{"managedLedgerOffloadThresholdInBytes":-9}`, 412)
	a.expect("POST", "/admin/v2/persistent/public/default/missing/offloadPolicies", `{"managedLedgerOffloadThresholdInBytes":0}`, 404)
	var o resources.OffloadPolicies
	a.decode(a.expect("GET", topicPath+"/offloadPolicies", "", 200), &o)
	if o.Driver != "" || o.ThresholdInBytes == nil || *o.ThresholdInBytes != 0 || o.ThresholdInSeconds != nil {
		t.Fatalf("topic override %+v", o)
	}
	o = resources.OffloadPolicies{}
	a.decode(a.expect("GET", topicPath+"/offloadPolicies?applied=true", "", 200), &o)
	if o.Driver != "filesystem" || *o.ThresholdInBytes != 0 || *o.ThresholdInSeconds != 60 {
		t.Fatalf("applied offload policies %+v", o)
	}
	a.expect("DELETE", topicPath+"/offloadPolicies", "", 204)
	if got := a.expect("GET", topicPath+"/offloadPolicies", "", 200); got != "null" {
		t.Fatalf("topic offload policies after DELETE = %s", got)
	}

	// Stats carry the offloaded size, internal stats each ledger's flag.
	var stats map[string]any
	a.decode(a.expect("GET", topicPath+"/stats", "", 200), &stats)
	if v, ok := stats["offloadedStorageSize"]; !ok || v != 0.0 {
		t.Fatalf("offloadedStorageSize = %v (%v)", v, ok)
	}
	var internal struct {
		Ledgers []map[string]any `json:"ledgers"`
	}
	a.decode(a.expect("GET", topicPath+"/internalStats", "", 200), &internal)
	if len(internal.Ledgers) == 0 || internal.Ledgers[0]["offloaded"] != false {
		t.Fatalf("internal stats ledgers %v", internal.Ledgers)
	}
}

// The stats renderers: offloaded bytes come from the topic, the per-ledger flag from
// each ledger's record; storageSize counts offloaded ledgers too.
func TestRenderOffloadStats(t *testing.T) {
	st := service.TopicStats{OffloadedSize: 300, Info: managedledger.Info{Ledgers: []managedledger.LedgerInfo{
		{ID: 1, Entries: 3, Size: 300, Closed: true, Offload: &managedledger.OffloadState{UUID: "u", State: managedledger.OffloadComplete}},
		{ID: 2, Entries: 1, Size: 50, Closed: true, Offload: &managedledger.OffloadState{UUID: "v"}},
		{ID: 3, Entries: 1, Size: 10},
	}}}
	s := renderStats(st)
	if s.OffloadedSize != 300 || s.StorageSize != 360 {
		t.Fatalf("offloaded %d, storage %d", s.OffloadedSize, s.StorageSize)
	}
	in := renderInternalStats(st)
	if !in.Ledgers[0].Offloaded || in.Ledgers[1].Offloaded || in.Ledgers[2].Offloaded {
		t.Fatalf("offloaded flags %+v", in.Ledgers)
	}
	p := partitionedStats{topicStats: emptyStats()}
	p.add(s)
	p.add(s)
	if p.OffloadedSize != 600 {
		t.Fatalf("partitioned offloaded size %d", p.OffloadedSize)
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(x) == string(y)
}
