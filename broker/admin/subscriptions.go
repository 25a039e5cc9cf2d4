package admin

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/service"
)

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	t, err := a.existingTopic(r)
	if !handle(w, err) {
		return
	}
	names := t.SubscriptionNames()
	sort.Strings(names)
	writeJSON(w, nonNil(names))
}

// subscriptionOf returns the topic (which must exist) and the {sub} path segment.
func (a *API) subscriptionOf(r *http.Request) (*service.Topic, string, error) {
	sub := r.PathValue("sub")
	if sub == "" {
		return nil, "", fmt.Errorf("%w: empty subscription name", errPrecondition)
	}
	t, err := a.existingTopic(r)
	return t, sub, err
}

// positionBody reads a MessageId body ({"ledgerId":…,"entryId":…}); required selects
// whether an empty body is an error (else it means latest, Pulsar's default).
func positionBody(r *http.Request, required bool) (managedledger.Position, error) {
	id := messageID{LedgerID: math.MaxInt64, EntryID: math.MaxInt64}
	if err := decodeBody(r, &id, !required); err != nil {
		return managedledger.Position{}, err
	}
	p := managedledger.Position{Ledger: id.LedgerID, Entry: id.EntryID}
	switch {
	case p.Ledger < 0 || p.Entry < 0:
		if p.Ledger != -1 || p.Entry != -1 {
			return p, fmt.Errorf("%w: message id %d:%d is neither earliest (-1:-1) nor a position", errPrecondition, p.Ledger, p.Entry)
		}
		return service.Earliest(), nil
	case p.Ledger == math.MaxInt64:
		return service.Latest(), nil
	}
	return p, nil
}

func (a *API) createSubscription(w http.ResponseWriter, r *http.Request) {
	t, sub, err := a.subscriptionOf(r)
	if !handle(w, err) {
		return
	}
	at, err := positionBody(r, false)
	if !handle(w, err) {
		return
	}
	if handle(w, t.CreateSubscription(r.Context(), sub, at)) {
		noContent(w)
	}
}

func (a *API) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	t, sub, err := a.subscriptionOf(r)
	if !handle(w, err) {
		return
	}
	force, err := boolQuery(r, "force")
	if !handle(w, err) {
		return
	}
	if handle(w, t.DeleteSubscription(r.Context(), sub, force)) {
		noContent(w)
	}
}

func (a *API) resetCursorToID(w http.ResponseWriter, r *http.Request) {
	t, sub, err := a.subscriptionOf(r)
	if !handle(w, err) {
		return
	}
	to, err := positionBody(r, true)
	if !handle(w, err) {
		return
	}
	if handle(w, t.ResetCursor(r.Context(), sub, to)) {
		noContent(w)
	}
}

func (a *API) resetCursorToTime(w http.ResponseWriter, r *http.Request) {
	ms, err := pathInt(r, "timestamp")
	if !handle(w, err) {
		return
	}
	t, sub, err := a.subscriptionOf(r)
	if !handle(w, err) {
		return
	}
	if handle(w, t.ResetCursorByTime(r.Context(), sub, ms)) {
		noContent(w)
	}
}

func (a *API) skip(w http.ResponseWriter, r *http.Request) {
	n, err := pathInt(r, "n")
	if !handle(w, err) {
		return
	}
	t, sub, err := a.subscriptionOf(r)
	if !handle(w, err) {
		return
	}
	if handle(w, t.SkipMessages(r.Context(), sub, n)) {
		noContent(w)
	}
}

func (a *API) clearBacklog(w http.ResponseWriter, r *http.Request) {
	t, sub, err := a.subscriptionOf(r)
	if !handle(w, err) {
		return
	}
	if handle(w, t.ClearBacklog(r.Context(), sub)) {
		noContent(w)
	}
}

// maxExpireSeconds bounds expireMessages' age so that it converts to a Duration.
const maxExpireSeconds = math.MaxInt64 / int64(time.Second)

func (a *API) expireMessages(w http.ResponseWriter, r *http.Request) {
	secs, err := pathInt(r, "seconds")
	if !handle(w, err) {
		return
	}
	t, sub, err := a.subscriptionOf(r)
	if !handle(w, err) {
		return
	}
	if secs > maxExpireSeconds {
		writeReason(w, http.StatusPreconditionFailed, fmt.Sprintf("expiry time %d s is out of range", secs))
		return
	}
	if handle(w, t.ExpireMessages(r.Context(), sub, time.Duration(secs)*time.Second)) {
		noContent(w)
	}
}
