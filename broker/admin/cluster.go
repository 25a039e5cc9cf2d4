package admin

import (
	"fmt"
	"net/http"
	"strings"
)

// Brokers, bookies and last message id: endpoints pulsaradmin and pulsar-admin call.

// bookieInfo is one entry of Pulsar's GET /admin/v2/bookies/all (RawBookieInfo), with
// Strata's readOnly and draining flags added.
type bookieInfo struct {
	BookieID string `json:"bookieId"`
	ReadOnly bool   `json:"readOnly"`
	Draining bool   `json:"draining"`
}

// listBookies serves GET /admin/v2/bookies/all: {"bookies":[{"bookieId":...}]}, the
// live bookies in the registry, read-write and read-only.
func (a *API) listBookies(w http.ResponseWriter, r *http.Request) {
	out := []bookieInfo{}
	if a.cfg.Bookies != nil {
		infos, err := a.cfg.Bookies(r.Context())
		if !handle(w, err) {
			return
		}
		for _, in := range infos {
			out = append(out, bookieInfo{BookieID: in.ID, ReadOnly: in.ReadOnly, Draining: in.Draining})
		}
	}
	writeJSON(w, struct {
		Bookies []bookieInfo `json:"bookies"`
	}{out})
}

// brokerAddress is this broker's advertised web address as Pulsar lists active brokers:
// host:port, no scheme.
func (a *API) brokerAddress() string {
	s := a.cfg.HTTPURL
	if s == "" {
		s = a.cfg.BrokerURL
	}
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	return strings.TrimSuffix(s, "/")
}

// listBrokers serves GET /admin/v2/brokers: the live brokers.
func (a *API) listBrokers(w http.ResponseWriter, r *http.Request) {
	out, err := a.activeBrokers(r)
	if handle(w, err) {
		writeJSON(w, out)
	}
}

// listClusterBrokers serves GET /admin/v2/brokers/{cluster}.
func (a *API) listClusterBrokers(w http.ResponseWriter, r *http.Request) {
	if c := r.PathValue("cluster"); c != a.cfg.Cluster {
		writeReason(w, http.StatusNotFound, fmt.Sprintf("Cluster %q does not exist", c))
		return
	}
	out, err := a.activeBrokers(r)
	if handle(w, err) {
		writeJSON(w, out)
	}
}

// lastMessageID serves GET .../{topic}/lastMessageId: the id of the topic's last
// message, -1:-1 when it has none.
func (a *API) lastMessageID(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	t, err := a.svc.Topic(r.Context(), name, false)
	if !handle(w, err) {
		return
	}
	pos, batch, err := t.LastMessage(r.Context())
	if !handle(w, err) {
		return
	}
	id := lastID{LedgerID: pos.Ledger, EntryID: pos.Entry, PartitionIndex: name.PartitionIndex(), BatchIndex: batch}
	if pos.Entry < 0 {
		id.LedgerID, id.EntryID, id.BatchIndex = -1, -1, -1
	}
	writeJSON(w, id)
}

// lastID is Pulsar's MessageIdImpl / BatchMessageIdImpl JSON.
type lastID struct {
	LedgerID       int64 `json:"ledgerId"`
	EntryID        int64 `json:"entryId"`
	PartitionIndex int   `json:"partitionIndex"`
	BatchIndex     int32 `json:"batchIndex"`
}
