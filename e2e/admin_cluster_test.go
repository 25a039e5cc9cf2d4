package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/strata-io/strata/e2e/harness"
)

// Brokers, bookies and last message id, through pulsaradmin, the raw REST API and the
// CLI as a user types it.
func TestAdminBrokersBookiesLastMessageID(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	adm := newAdmin(t, s.HTTPURL)
	webAddr := strings.TrimPrefix(s.HTTPURL, "http://")

	// Brokers: this one, by its advertised web address.
	for _, list := range []func() ([]string, error){
		adm.Brokers().GetListActiveBrokers,
		func() ([]string, error) { return adm.Brokers().GetActiveBrokers("standalone") },
	} {
		got, err := list()
		if err != nil || len(got) != 1 || got[0] != webAddr {
			t.Fatalf("active brokers = %v, %v; want [%s]", got, err, webAddr)
		}
	}
	if _, err := adm.Brokers().GetActiveBrokers("elsewhere"); adminStatus(err) != http.StatusNotFound {
		t.Fatalf("brokers of an unknown cluster: %v, want 404", err)
	}

	// Bookies: Pulsar's {"bookies":[{"bookieId":...}]}, with the read-only state.
	code, body := rawAdmin(t, "GET", s.HTTPURL+"/admin/v2/bookies/all", "")
	var all struct {
		Bookies []struct {
			BookieID string `json:"bookieId"`
			ReadOnly *bool  `json:"readOnly"`
		} `json:"bookies"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &all) != nil || len(all.Bookies) != 1 ||
		all.Bookies[0].BookieID != "standalone-bookie" || all.Bookies[0].ReadOnly == nil || *all.Bookies[0].ReadOnly {
		t.Fatalf("GET /admin/v2/bookies/all = %d %s", code, body)
	}

	// Last message id: -1:-1 while empty, then the last message produced; 404 for a
	// topic that does not exist.
	const topic = "persistent://public/default/last-message-id"
	tn := adminTopicName(t, topic)
	if err := adm.Topics().Create(tn, 0); err != nil {
		t.Fatal(err)
	}
	id, err := adm.Topics().GetLastMessageID(tn)
	if err != nil || id.LedgerID != -1 || id.EntryID != -1 {
		t.Fatalf("last message id of an empty topic = %+v, %v; want -1:-1", id, err)
	}
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: s.PulsarURL})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	prod := newProducer(t, client, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	ctx := testCtx(t)
	var last pulsar.MessageID
	for i := 0; i < 3; i++ {
		if last, err = prod.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("m")}); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()
	id, err = adm.Topics().GetLastMessageID(tn)
	if err != nil || id.LedgerID != last.LedgerID() || id.EntryID != last.EntryID() {
		t.Fatalf("last message id = %+v, %v; want %d:%d", id, err, last.LedgerID(), last.EntryID())
	}
	if _, err := adm.Topics().GetLastMessageID(adminTopicName(t, "persistent://public/default/no-such-topic")); adminStatus(err) != http.StatusNotFound {
		t.Fatalf("last message id of a missing topic: %v, want 404", err)
	}

	// The CLI.
	admin := func(args ...string) string {
		t.Helper()
		return cli(t, 0, append([]string{"admin", "--admin-url", s.HTTPURL}, args...)...)
	}
	mustContain(t, admin("bookies", "list"), "standalone-bookie\n")
	mustContain(t, admin("bookies", "list-bookies", "-o", "json"), `"readOnly": false`)
	mustContain(t, admin("brokers", "list"), webAddr+"\n")
	mustContain(t, admin("brokers", "list", "standalone"), webAddr+"\n")
	out := admin("topics", "last-message-id", topic)
	mustContain(t, out, "ledgerId", "entryId")
	var cliID struct{ LedgerID, EntryID int64 }
	if err := json.Unmarshal([]byte(admin("-o", "json", "topics", "last-message-id", topic)), &cliID); err != nil ||
		cliID.LedgerID != last.LedgerID() || cliID.EntryID != last.EntryID() {
		t.Fatalf("strata admin topics last-message-id -o json = %+v, %v", cliID, err)
	}
}
