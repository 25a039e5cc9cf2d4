package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/strata-io/strata/bookie/audit"
	"github.com/strata-io/strata/bookie/registry"
)

// Bookie maintenance (Strata's, no Pulsar equivalent): the ledgers that are
// under-replicated, and decommissioning a bookie. They read etcd only (registry and
// ledger metadata, through bookie/audit), so any broker answers; the moving itself is
// the auto-recovery worker's (bookie/autorecovery), which a broker does not import.

// ledgerList is the answer of GET /admin/v2/bookies/underreplicated.
type ledgerList struct {
	Ledgers []int64 `json:"ledgers"`
	Count   int     `json:"count"`
}

// decommissionState is the answer of GET /admin/v2/bookies/{bookie}/decommission.
type decommissionState struct {
	BookieID string `json:"bookieId"`
	// Draining: the bookie is marked for decommission.
	Draining bool `json:"draining"`
	// Registered: the bookie is up (registered read-write or read-only).
	Registered bool `json:"registered"`
	// Ledgers lists the ledgers whose metadata still names the bookie in some fragment.
	Ledgers []int64 `json:"ledgers"`
	Count   int     `json:"count"`
	// Done: draining and no ledger names it any more; the bookie can be stopped.
	Done bool `json:"done"`
}

// maintenance returns the registry, or answers 501 when the broker has no store.
func (a *API) maintenance(w http.ResponseWriter) (*registry.Registry, bool) {
	if a.cfg.Store == nil {
		writeReason(w, http.StatusNotImplemented, "bookie maintenance is not available on this broker (no metadata store configured)")
		return nil, false
	}
	return registry.New(a.cfg.Store), true
}

// underReplicated serves GET /admin/v2/bookies/underreplicated: the ledgers with a
// fragment on a bookie that is not registered.
func (a *API) underReplicated(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.maintenance(w); !ok {
		return
	}
	ids, err := audit.UnderReplicated(r.Context(), a.cfg.Store)
	if !handle(w, err) {
		return
	}
	if ids == nil {
		ids = []int64{}
	}
	writeJSON(w, ledgerList{Ledgers: ids, Count: len(ids)})
}

// bookieOf validates the {bookie} path segment.
func bookieOf(r *http.Request) (string, error) {
	id := r.PathValue("bookie")
	if err := registry.ValidateID(id); err != nil {
		return "", fmt.Errorf("%w: %v", errPrecondition, err)
	}
	return id, nil
}

// decommission serves POST /admin/v2/bookies/{bookie}/decommission: mark the bookie
// draining. No new ensemble is placed on it from now on, and the auto-recovery worker
// moves its fragments away; GET on the same path tells when that is done. 204; 404 for
// a bookie that never registered. Marking a draining bookie again changes nothing.
func (a *API) decommission(w http.ResponseWriter, r *http.Request) {
	reg, ok := a.maintenance(w)
	if !ok {
		return
	}
	id, err := bookieOf(r)
	if !handle(w, err) {
		return
	}
	if err := reg.SetDraining(r.Context(), id); err != nil {
		if errors.Is(err, registry.ErrUnknownBookie) {
			writeReason(w, http.StatusNotFound, fmt.Sprintf("Bookie %q does not exist", id))
			return
		}
		writeError(w, err)
		return
	}
	noContent(w)
}

// decommissionStatus serves GET /admin/v2/bookies/{bookie}/decommission.
func (a *API) decommissionStatus(w http.ResponseWriter, r *http.Request) {
	reg, ok := a.maintenance(w)
	if !ok {
		return
	}
	id, err := bookieOf(r)
	if !handle(w, err) {
		return
	}
	known, err := reg.Known(r.Context(), id)
	if !handle(w, err) {
		return
	}
	if !known {
		writeReason(w, http.StatusNotFound, fmt.Sprintf("Bookie %q does not exist", id))
		return
	}
	draining, err := reg.Draining(r.Context())
	if !handle(w, err) {
		return
	}
	_, lookupErr := reg.Lookup(r.Context(), id)
	ids, err := audit.LedgersOn(r.Context(), a.cfg.Store, id)
	if !handle(w, err) {
		return
	}
	if ids == nil {
		ids = []int64{}
	}
	_, isDraining := draining[id]
	writeJSON(w, decommissionState{
		BookieID: id, Draining: isDraining, Registered: lookupErr == nil,
		Ledgers: ids, Count: len(ids), Done: isDraining && len(ids) == 0,
	})
}

// cancelDecommission serves DELETE /admin/v2/bookies/{bookie}/decommission: remove the
// draining mark (new ensembles may use the bookie again; fragments already moved stay
// where they are). 204.
func (a *API) cancelDecommission(w http.ResponseWriter, r *http.Request) {
	reg, ok := a.maintenance(w)
	if !ok {
		return
	}
	id, err := bookieOf(r)
	if !handle(w, err) {
		return
	}
	if !handle(w, reg.ClearDraining(r.Context(), id)) {
		return
	}
	noContent(w)
}
