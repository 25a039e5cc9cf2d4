package admin

import (
	"fmt"
	"net/http"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/resources"
)

// Tiered storage endpoints, Pulsar's paths, bodies and statuses:
//
//	PUT/GET .../persistent/{t}/{ns}/{topic}/offload       trigger (MessageId body) / status
//	GET/PUT .../namespaces/{t}/{ns}/offloadThreshold           long bytes, -1 unset
//	GET/PUT .../namespaces/{t}/{ns}/offloadThresholdInSeconds  long seconds, -1 unset
//	GET/PUT/DELETE .../namespaces/{t}/{ns}/offloadDeletionLagMs long ms
//	GET/POST .../namespaces/{t}/{ns}/offloadPolicies, DELETE .../removeOffloadPolicies
//	GET/POST/DELETE .../persistent/{t}/{ns}/{topic}/offloadPolicies
//
// Out-of-range values and unsupported drivers answer 412, malformed bodies 400, and
// leave the records as they were. A trigger while one runs answers 409 and one with no
// offload store configured 412 (broker/errcode's rows for the managed ledger's
// ErrOffloadRunning and ErrOffloadDisabled).

// offloadStatus is Pulsar's OffloadProcessStatus JSON.
type offloadStatus struct {
	Status                  string    `json:"status"`
	LastError               string    `json:"lastError"`
	FirstUnoffloadedMessage messageID `json:"firstUnoffloadedMessage"`
}

func (a *API) triggerOffload(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	var id messageID
	if !handle(w, decodeBody(r, &id, false)) {
		return
	}
	if id.LedgerID < 0 || id.EntryID < 0 {
		writeError(w, fmt.Errorf("%w: offload up to message %d:%d: ledger and entry ids must be ≥ 0",
			errBadRequest, id.LedgerID, id.EntryID))
		return
	}
	err = a.svc.Offload(r.Context(), name, managedledger.Position{Ledger: id.LedgerID, Entry: id.EntryID})
	if handle(w, err) {
		noContent(w)
	}
}

func (a *API) offloadStatus(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	st, err := a.svc.OffloadStatus(r.Context(), name)
	if !handle(w, err) {
		return
	}
	// Pulsar gives the first message not offloaded only with SUCCESS; other states
	// carry MessageId.earliest (-1:-1).
	first := messageID{LedgerID: -1, EntryID: -1, PartitionIndex: name.PartitionIndex()}
	if st.Status == "SUCCESS" {
		first.LedgerID, first.EntryID = st.FirstUnoffloaded.Ledger, st.FirstUnoffloaded.Entry
	}
	writeJSON(w, offloadStatus{Status: st.Status, LastError: st.LastError, FirstUnoffloadedMessage: first})
}

// int64Body reads a JSON integer body.
func int64Body(r *http.Request) (int64, error) {
	var n int64
	err := decodeBody(r, &n, false)
	return n, err
}

// orUnset renders an unset long as Pulsar's -1.
func orUnset(v *int64) int64 {
	if v == nil {
		return -1
	}
	return *v
}

// thresholdBody reads a threshold: -1 unsets it (nil), other negatives are refused.
func thresholdBody(r *http.Request, what string) (*int64, error) {
	n, err := int64Body(r)
	if err != nil {
		return nil, err
	}
	if err := resources.CheckOffloadThreshold(what, &n); err != nil {
		return nil, fmt.Errorf("%w: %v", errPrecondition, err)
	}
	if n == -1 {
		return nil, nil
	}
	return &n, nil
}

// setOffloadValue sets a namespace single value and, as Pulsar does, the same field of
// the namespace's offload object if it has one, so the value just set is the one in
// force (the object's field wins over the single value).
func setOffloadValue(single **int64, inObject func(*resources.OffloadPolicies) **int64, p *resources.Policies, v *int64) {
	*single = v
	if p.OffloadPolicies != nil {
		*inObject(p.OffloadPolicies) = v
		if p.OffloadPolicies.Empty() {
			p.OffloadPolicies = nil
		}
	}
}

// parseOffloadPolicies reads an offload-policies body: empty (or null) is refused with
// 412, as Pulsar refuses an empty policy.
func parseOffloadPolicies(r *http.Request, requireDriver bool) (*resources.OffloadPolicies, error) {
	var o resources.OffloadPolicies
	if err := decodeBody(r, &o, true); err != nil {
		return nil, err
	}
	if err := o.Normalize(requireDriver); err != nil {
		return nil, fmt.Errorf("%w: %v", errPrecondition, err)
	}
	return &o, nil
}

// validateNamespaceOffload checks the offload fields of a whole namespace record
// (namespace creation).
func validateNamespaceOffload(p *resources.Policies) error {
	if err := resources.CheckOffloadThreshold("offload_threshold", p.OffloadThreshold); err != nil {
		return fmt.Errorf("%w: %v", errPrecondition, err)
	}
	if err := resources.CheckOffloadThreshold("offload_threshold_in_seconds", p.OffloadThresholdInSeconds); err != nil {
		return fmt.Errorf("%w: %v", errPrecondition, err)
	}
	if v := p.OffloadDeletionLagMs; v != nil && *v < -1 {
		return fmt.Errorf("%w: offload_deletion_lag_ms must be ≥ 0 (-1: unset), got %d", errPrecondition, *v)
	}
	// Pulsar's defaults (pulsaradmin sends offload_threshold -1) are "unset".
	for _, v := range []**int64{&p.OffloadThreshold, &p.OffloadThresholdInSeconds, &p.OffloadDeletionLagMs} {
		if *v != nil && **v == -1 {
			*v = nil
		}
	}
	if p.OffloadPolicies != nil {
		if err := p.OffloadPolicies.Normalize(true); err != nil {
			return fmt.Errorf("%w: %v", errPrecondition, err)
		}
	}
	return nil
}

var offloadPolicies = []policy{
	{
		path:      "offloadThreshold",
		get:       func(p resources.Policies) any { return orUnset(p.OffloadThreshold) },
		setMethod: http.MethodPut,
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			v, err := thresholdBody(r, "offload threshold")
			return func(p *resources.Policies) {
				setOffloadValue(&p.OffloadThreshold, func(o *resources.OffloadPolicies) **int64 { return &o.ThresholdInBytes }, p, v)
			}, err
		},
	},
	{
		path:      "offloadThresholdInSeconds",
		get:       func(p resources.Policies) any { return orUnset(p.OffloadThresholdInSeconds) },
		setMethod: http.MethodPut,
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			v, err := thresholdBody(r, "offload threshold in seconds")
			return func(p *resources.Policies) {
				setOffloadValue(&p.OffloadThresholdInSeconds, func(o *resources.OffloadPolicies) **int64 { return &o.ThresholdInSeconds }, p, v)
			}, err
		},
	},
	{
		path: "offloadDeletionLagMs",
		// null when unset (pulsaradmin then reports -1).
		get:       func(p resources.Policies) any { return optional(p.OffloadDeletionLagMs) },
		setMethod: http.MethodPut,
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			n, err := int64Body(r)
			if err == nil && n < -1 {
				err = fmt.Errorf("%w: offload deletion lag must be ≥ 0 ms (-1: unset), got %d", errPrecondition, n)
			}
			v := &n
			if n == -1 {
				v = nil
			}
			return func(p *resources.Policies) {
				setOffloadValue(&p.OffloadDeletionLagMs, func(o *resources.OffloadPolicies) **int64 { return &o.DeletionLagInMillis }, p, v)
			}, err
		},
		remove: func(*http.Request) (func(*resources.Policies), error) {
			return func(p *resources.Policies) {
				setOffloadValue(&p.OffloadDeletionLagMs, func(o *resources.OffloadPolicies) **int64 { return &o.DeletionLagInMillis }, p, nil)
			}, nil
		},
	},
	{
		path: "offloadPolicies",
		get:  func(p resources.Policies) any { return p.OffloadPolicies },
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			o, err := parseOffloadPolicies(r, true)
			return func(p *resources.Policies) { p.OffloadPolicies = o }, err
		},
	},
	{
		path: "removeOffloadPolicies",
		remove: func(*http.Request) (func(*resources.Policies), error) {
			return func(p *resources.Policies) { p.OffloadPolicies = nil }, nil
		},
	},
}

var topicOffloadPolicies = []topicPolicy{
	{
		path: "offloadPolicies",
		get: func(tp resources.TopicPolicies, eff resources.Policies) (any, any) {
			return tp.OffloadPolicies, eff.OffloadPolicies
		},
		parse: func(r *http.Request) (func(*resources.TopicPolicies), error) {
			o, err := parseOffloadPolicies(r, false)
			return func(tp *resources.TopicPolicies) { tp.OffloadPolicies = o }, err
		},
		remove: func(*http.Request) (func(*resources.TopicPolicies), error) {
			return func(tp *resources.TopicPolicies) { tp.OffloadPolicies = nil }, nil
		},
	},
}
