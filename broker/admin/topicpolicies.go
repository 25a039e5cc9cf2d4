package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/strata-io/strata/broker/resources"
)

// Topic-level policy overrides: GET/POST/DELETE .../persistent/{t}/{ns}/{topic}/{policy},
// Pulsar's paths and bodies as pulsaradmin's topic policy calls send them. GET returns
// the topic's override (null when none); with ?applied=true the effective value (the
// override, else the namespace's). Values are checked as the namespace ones are.

type topicPolicy struct {
	path string
	// get returns the override (nil when unset) and the effective value.
	get    func(tp resources.TopicPolicies, eff resources.Policies) (override, applied any)
	parse  func(r *http.Request) (func(*resources.TopicPolicies), error)
	remove func(r *http.Request) (func(*resources.TopicPolicies), error)
}

func optional[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// intOverride reads a non-negative integer body.
func intOverride(r *http.Request, what string) (*int, error) {
	n, err := intBody(r, what)
	return &n, err
}

var topicPolicies = []topicPolicy{
	{
		path: "messageTTL",
		get: func(tp resources.TopicPolicies, eff resources.Policies) (any, any) {
			return optional(tp.MessageTTLInSeconds), eff.MessageTTLInSeconds
		},
		parse: func(r *http.Request) (func(*resources.TopicPolicies), error) {
			// pulsaradmin sends ?messageTTL=N with no body; a JSON body is accepted too.
			var n int
			if q := r.URL.Query().Get("messageTTL"); q != "" {
				v, err := strconv.Atoi(q)
				if err != nil {
					return nil, fmt.Errorf("%w: messageTTL %q is not an integer", errBadRequest, q)
				}
				n = v
			} else {
				v, err := intBody(r, "message TTL")
				if err != nil {
					return nil, err
				}
				n = v
			}
			if n < 0 {
				return nil, fmt.Errorf("%w: message TTL must be ≥ 0, got %d", errPrecondition, n)
			}
			return func(tp *resources.TopicPolicies) { tp.MessageTTLInSeconds = &n }, nil
		},
		remove: func(*http.Request) (func(*resources.TopicPolicies), error) {
			return func(tp *resources.TopicPolicies) { tp.MessageTTLInSeconds = nil }, nil
		},
	},
	{
		path: "retention",
		get: func(tp resources.TopicPolicies, eff resources.Policies) (any, any) {
			return optional(tp.Retention), eff.Retention
		},
		parse: func(r *http.Request) (func(*resources.TopicPolicies), error) {
			var v resources.RetentionPolicies
			if err := decodeBody(r, &v, false); err != nil {
				return nil, err
			}
			err := validateRetention(v)
			return func(tp *resources.TopicPolicies) { tp.Retention = &v }, err
		},
		remove: func(*http.Request) (func(*resources.TopicPolicies), error) {
			return func(tp *resources.TopicPolicies) { tp.Retention = nil }, nil
		},
	},
	{
		path: "backlogQuotaMap",
		get: func(tp resources.TopicPolicies, eff resources.Policies) (any, any) {
			o, a := tp.BacklogQuotas, eff.BacklogQuotas
			if o == nil {
				o = map[string]resources.BacklogQuota{}
			}
			if a == nil {
				a = map[string]resources.BacklogQuota{}
			}
			return o, a
		},
	},
	{
		path: "backlogQuota",
		parse: func(r *http.Request) (func(*resources.TopicPolicies), error) {
			set, err := parseBacklogQuota(r)
			return func(tp *resources.TopicPolicies) { set(&tp.BacklogQuotas) }, err
		},
		remove: func(r *http.Request) (func(*resources.TopicPolicies), error) {
			del, err := removeBacklogQuota(r)
			return func(tp *resources.TopicPolicies) { del(&tp.BacklogQuotas) }, err
		},
	},
	{
		path: "deduplicationEnabled",
		get: func(tp resources.TopicPolicies, eff resources.Policies) (any, any) {
			return optional(tp.DeduplicationEnabled), eff.DeduplicationEnabled != nil && *eff.DeduplicationEnabled
		},
		parse: func(r *http.Request) (func(*resources.TopicPolicies), error) {
			var b bool
			err := decodeBody(r, &b, false)
			return func(tp *resources.TopicPolicies) { tp.DeduplicationEnabled = &b }, err
		},
		remove: func(*http.Request) (func(*resources.TopicPolicies), error) {
			return func(tp *resources.TopicPolicies) { tp.DeduplicationEnabled = nil }, nil
		},
	},
	{
		path: "maxProducers",
		get: func(tp resources.TopicPolicies, eff resources.Policies) (any, any) {
			return optional(tp.MaxProducers), eff.MaxProducersPerTopic
		},
		parse: func(r *http.Request) (func(*resources.TopicPolicies), error) {
			n, err := intOverride(r, "maxProducers")
			return func(tp *resources.TopicPolicies) { tp.MaxProducers = n }, err
		},
		remove: func(*http.Request) (func(*resources.TopicPolicies), error) {
			return func(tp *resources.TopicPolicies) { tp.MaxProducers = nil }, nil
		},
	},
	{
		path: "maxConsumers",
		get: func(tp resources.TopicPolicies, eff resources.Policies) (any, any) {
			return optional(tp.MaxConsumers), eff.MaxConsumersPerTopic
		},
		parse: func(r *http.Request) (func(*resources.TopicPolicies), error) {
			n, err := intOverride(r, "maxConsumers")
			return func(tp *resources.TopicPolicies) { tp.MaxConsumers = n }, err
		},
		remove: func(*http.Request) (func(*resources.TopicPolicies), error) {
			return func(tp *resources.TopicPolicies) { tp.MaxConsumers = nil }, nil
		},
	},
	{
		path: "persistence",
		get: func(tp resources.TopicPolicies, eff resources.Policies) (any, any) {
			return optional(tp.Persistence), eff.Persistence
		},
		parse: func(r *http.Request) (func(*resources.TopicPolicies), error) {
			var v resources.PersistencePolicies
			if err := decodeBody(r, &v, false); err != nil {
				return nil, err
			}
			err := validatePersistence(v)
			return func(tp *resources.TopicPolicies) { tp.Persistence = &v }, err
		},
		remove: func(*http.Request) (func(*resources.TopicPolicies), error) {
			return func(tp *resources.TopicPolicies) { tp.Persistence = nil }, nil
		},
	},
}

func (a *API) topicPolicyRoutes(mux *http.ServeMux, t string) {
	for _, pol := range slices.Concat(topicPolicies, topicOffloadPolicies) {
		pol := pol
		if pol.get != nil {
			mux.HandleFunc("GET "+t+"/"+pol.path, func(w http.ResponseWriter, r *http.Request) {
				name, err := topicOf(r)
				if !handle(w, err) {
					return
				}
				applied, err := boolQuery(r, "applied")
				if !handle(w, err) {
					return
				}
				nsPol, err := a.svc.Namespaces.Policies(r.Context(), name.NamespaceName())
				if !handle(w, err) {
					return
				}
				tp, err := a.svc.Namespaces.TopicPolicies(r.Context(), name)
				if !handle(w, err) {
					return
				}
				override, eff := pol.get(tp, tp.Apply(nsPol))
				if applied {
					writeJSON(w, eff)
				} else {
					writeJSON(w, override)
				}
			})
		}
		change := func(parse func(*http.Request) (func(*resources.TopicPolicies), error)) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				name, err := topicOf(r)
				if !handle(w, err) {
					return
				}
				apply, err := parse(r)
				if !handle(w, err) {
					return
				}
				err = a.svc.Namespaces.UpdateTopicPolicies(r.Context(), name, func(tp *resources.TopicPolicies) error {
					apply(tp)
					return nil
				})
				if handle(w, err) {
					noContent(w)
				}
			}
		}
		if pol.parse != nil {
			mux.HandleFunc("POST "+t+"/"+pol.path, change(pol.parse))
		}
		if pol.remove != nil {
			mux.HandleFunc("DELETE "+t+"/"+pol.path, change(pol.remove))
		}
	}
}
