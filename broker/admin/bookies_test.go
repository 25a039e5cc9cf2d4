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

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/metadata/metadatatest"
)

// The bookie maintenance endpoints over a real embedded etcd: bookies b1 (registered)
// and b2 (down) with cookies, ledger 1 on b1 only, ledger 2 on b1 and b2.
func TestBookieMaintenanceEndpoints(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	st, _ := metadatatest.Store(t, "/admintest")
	for _, id := range []string{"b1", "b2", "b3"} {
		if _, err := st.Put(ctx, st.Keys.Cookie(id), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	lease, err := st.GrantLease(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Revoke(context.Background())
	reg := registry.New(st)
	for _, id := range []string{"b1", "b3"} {
		if err := reg.Register(ctx, registry.Info{ID: id, Address: "127.0.0.1:1"}, lease); err != nil {
			t.Fatal(err)
		}
	}
	putLedger := func(id int64, ens ...string) {
		m := &ledger.Metadata{ID: id, EnsembleSize: len(ens), WriteQuorum: 1, AckQuorum: 1, State: ledger.StateClosed,
			LastEntry: -1, Fragments: []ledger.Fragment{{FirstEntry: 0, Ensemble: ens}}}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Create(ctx, st.Keys.Ledger(id), data); err != nil {
			t.Fatal(err)
		}
	}
	putLedger(1, "b1")
	putLedger(2, "b1", "b2")
	putLedger(3, "b3")

	mux := http.NewServeMux()
	Register(mux, Config{Store: st, Bookies: reg.Available})
	srv := httptest.NewServer(Guard(mux))
	defer srv.Close()
	call := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	status := func(id string) decommissionState {
		t.Helper()
		code, body := call("GET", "/admin/v2/bookies/"+id+"/decommission")
		var s decommissionState
		if code != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil {
			t.Fatalf("decommission status of %s: %d %s", id, code, body)
		}
		return s
	}

	// Under-replicated: ledger 2 lists b2, which is down.
	if code, body := call("GET", "/admin/v2/bookies/underreplicated"); code != 200 || body != `{"ledgers":[2],"count":1}` {
		t.Fatalf("underreplicated: %d %s", code, body)
	}

	// Decommission b1: 404 for an unknown bookie, 412 for a bad id; then draining,
	// listed in bookies/all, and two ledgers to go.
	if code, body := call("POST", "/admin/v2/bookies/nope/decommission"); code != http.StatusNotFound {
		t.Fatalf("decommission unknown: %d %s", code, body)
	}
	if code, body := call("GET", "/admin/v2/bookies/nope/decommission"); code != http.StatusNotFound {
		t.Fatalf("status of unknown: %d %s", code, body)
	}
	if code, body := call("POST", "/admin/v2/bookies/%2e%2e/decommission"); code != http.StatusBadRequest {
		t.Fatalf("decommission ..: %d %s", code, body)
	}
	if s := status("b1"); s.Draining || s.Done || !s.Registered || s.Count != 2 {
		t.Fatalf("before: %+v", s)
	}
	for range 2 { // idempotent
		if code, body := call("POST", "/admin/v2/bookies/b1/decommission"); code != http.StatusNoContent {
			t.Fatalf("decommission: %d %s", code, body)
		}
	}
	if s := status("b1"); !s.Draining || s.Done || s.Count != 2 || len(s.Ledgers) != 2 {
		t.Fatalf("draining: %+v", s)
	}
	if code, body := call("GET", "/admin/v2/bookies/all"); code != 200 ||
		!strings.Contains(body, `{"bookieId":"b1","readOnly":false,"draining":true}`) ||
		!strings.Contains(body, `{"bookieId":"b3","readOnly":false,"draining":false}`) {
		t.Fatalf("bookies/all: %d %s", code, body)
	}
	w, err := reg.Writable(ctx)
	if err != nil || len(w) != 1 || w[0].ID != "b3" {
		t.Fatalf("writable while b1 drains: %v, %v", w, err)
	}
	// Once no ledger lists it (the worker's doing; here by hand), it is done.
	if err := st.Delete(ctx, st.Keys.Ledger(1), -1); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, st.Keys.Ledger(2), -1); err != nil {
		t.Fatal(err)
	}
	if s := status("b1"); !s.Done || s.Count != 0 || s.Ledgers == nil {
		t.Fatalf("after the ledgers left: %+v", s)
	}
	// Cancel.
	if code, body := call("DELETE", "/admin/v2/bookies/b1/decommission"); code != http.StatusNoContent {
		t.Fatalf("cancel: %d %s", code, body)
	}
	if s := status("b1"); s.Draining || s.Done {
		t.Fatalf("after cancel: %+v", s)
	}

	// Without a store the endpoints say so.
	mux2 := http.NewServeMux()
	Register(mux2, Config{})
	srv2 := httptest.NewServer(mux2)
	defer srv2.Close()
	resp, err := http.Get(srv2.URL + "/admin/v2/bookies/underreplicated")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("without a store: %d", resp.StatusCode)
	}
}
