package admin

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/strata-io/strata/broker/resources"
)

// Namespace policy endpoints: GET reads one policy, POST sets it, DELETE removes it.
// Values are checked before the record is touched. The broker enforces them
// (broker/service/policy.go), picking changes up through a watch on the records.

// policy describes one policy endpoint.
type policy struct {
	path string
	get  func(resources.Policies) any
	// parse reads and checks the set request (POST, or setMethod), returning the
	// change to apply.
	parse     func(r *http.Request) (func(*resources.Policies), error)
	setMethod string
	remove    func(r *http.Request) (func(*resources.Policies), error)
}

func intBody(r *http.Request, what string) (int, error) {
	var n int
	if err := decodeBody(r, &n, false); err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: %s must be ≥ 0, got %d", errPrecondition, what, n)
	}
	return n, nil
}

// backlogQuotaType reads ?backlogQuotaType= (default destination_storage).
func backlogQuotaType(r *http.Request) (string, error) {
	switch t := r.URL.Query().Get("backlogQuotaType"); t {
	case "", "destination_storage":
		return "destination_storage", nil
	case "message_age":
		return t, nil
	default:
		return "", fmt.Errorf("%w: unknown backlogQuotaType %q", errPrecondition, t)
	}
}

var policies = []policy{
	{
		path: "messageTTL",
		get:  func(p resources.Policies) any { return p.MessageTTLInSeconds },
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			n, err := intBody(r, "message TTL")
			return func(p *resources.Policies) { p.MessageTTLInSeconds = n }, err
		},
		remove: func(*http.Request) (func(*resources.Policies), error) {
			return func(p *resources.Policies) { p.MessageTTLInSeconds = 0 }, nil
		},
	},
	{
		path: "retention",
		get:  func(p resources.Policies) any { return p.Retention },
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			var v resources.RetentionPolicies
			if err := decodeBody(r, &v, false); err != nil {
				return nil, err
			}
			err := validateRetention(v)
			return func(p *resources.Policies) { p.Retention = &v }, err
		},
		remove: func(*http.Request) (func(*resources.Policies), error) {
			return func(p *resources.Policies) { p.Retention = nil }, nil
		},
	},
	{
		path: "backlogQuotaMap",
		get: func(p resources.Policies) any {
			if p.BacklogQuotas == nil {
				return map[string]resources.BacklogQuota{}
			}
			return p.BacklogQuotas
		},
	},
	{
		path: "backlogQuota",
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			set, err := parseBacklogQuota(r)
			return func(p *resources.Policies) { set(&p.BacklogQuotas) }, err
		},
		remove: func(r *http.Request) (func(*resources.Policies), error) {
			del, err := removeBacklogQuota(r)
			return func(p *resources.Policies) { del(&p.BacklogQuotas) }, err
		},
	},
	{
		path: "deduplication",
		get:  func(p resources.Policies) any { return p.DeduplicationEnabled },
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			var b bool
			err := decodeBody(r, &b, false)
			return func(p *resources.Policies) { p.DeduplicationEnabled = &b }, err
		},
		remove: func(*http.Request) (func(*resources.Policies), error) {
			return func(p *resources.Policies) { p.DeduplicationEnabled = nil }, nil
		},
	},
	{
		path: "maxProducersPerTopic",
		get:  func(p resources.Policies) any { return p.MaxProducersPerTopic },
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			n, err := intBody(r, "maxProducersPerTopic")
			return func(p *resources.Policies) { p.MaxProducersPerTopic = n }, err
		},
		remove: func(*http.Request) (func(*resources.Policies), error) {
			return func(p *resources.Policies) { p.MaxProducersPerTopic = 0 }, nil
		},
	},
	{
		path: "maxConsumersPerTopic",
		get:  func(p resources.Policies) any { return p.MaxConsumersPerTopic },
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			n, err := intBody(r, "maxConsumersPerTopic")
			return func(p *resources.Policies) { p.MaxConsumersPerTopic = n }, err
		},
		remove: func(*http.Request) (func(*resources.Policies), error) {
			return func(p *resources.Policies) { p.MaxConsumersPerTopic = 0 }, nil
		},
	},
	{
		path: "persistence",
		get:  func(p resources.Policies) any { return p.Persistence },
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			var v resources.PersistencePolicies
			if err := decodeBody(r, &v, false); err != nil {
				return nil, err
			}
			err := validatePersistence(v)
			return func(p *resources.Policies) { p.Persistence = &v }, err
		},
		remove: func(*http.Request) (func(*resources.Policies), error) {
			return func(p *resources.Policies) { p.Persistence = nil }, nil
		},
	},
	{
		path: "autoTopicCreation",
		get:  func(p resources.Policies) any { return p.AutoTopicCreationOverride },
		parse: func(r *http.Request) (func(*resources.Policies), error) {
			var v resources.AutoTopicCreation
			if err := decodeBody(r, &v, false); err != nil {
				return nil, err
			}
			err := validateAutoTopicCreation(v)
			return func(p *resources.Policies) { p.AutoTopicCreationOverride = &v }, err
		},
		remove: func(*http.Request) (func(*resources.Policies), error) {
			return func(p *resources.Policies) { p.AutoTopicCreationOverride = nil }, nil
		},
	},
}

func (a *API) policyRoutes(mux *http.ServeMux, ns string) {
	for _, pol := range slices.Concat(policies, offloadPolicies) {
		pol := pol
		if pol.get != nil {
			mux.HandleFunc("GET "+ns+"/"+pol.path, func(w http.ResponseWriter, r *http.Request) {
				name, err := namespaceOf(r)
				if !handle(w, err) {
					return
				}
				p, err := a.svc.Namespaces.Policies(r.Context(), name)
				if handle(w, err) {
					writeJSON(w, pol.get(p))
				}
			})
		}
		change := func(parse func(*http.Request) (func(*resources.Policies), error)) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				name, err := namespaceOf(r)
				if !handle(w, err) {
					return
				}
				apply, err := parse(r)
				if !handle(w, err) {
					return
				}
				err = a.svc.Namespaces.UpdatePolicies(r.Context(), name, func(p *resources.Policies) error {
					apply(p)
					return nil
				})
				if handle(w, err) {
					noContent(w)
				}
			}
		}
		if pol.parse != nil {
			method := pol.setMethod
			if method == "" {
				method = http.MethodPost
			}
			mux.HandleFunc(method+" "+ns+"/"+pol.path, change(pol.parse))
		}
		if pol.remove != nil {
			mux.HandleFunc("DELETE "+ns+"/"+pol.path, change(pol.remove))
		}
	}
}

func validateRetention(v resources.RetentionPolicies) error {
	if v.RetentionTimeInMinutes < -1 || v.RetentionSizeInMB < -1 {
		return fmt.Errorf("%w: retention time and size must be ≥ -1 (-1 is infinite), got %d min, %d MB",
			errPrecondition, v.RetentionTimeInMinutes, v.RetentionSizeInMB)
	}
	return nil
}

func validateBacklogQuota(typ string, q resources.BacklogQuota) error {
	switch q.Policy {
	case "producer_request_hold", "producer_exception", "consumer_backlog_eviction":
	default:
		return fmt.Errorf("%w: unknown backlog quota policy %q", errPrecondition, q.Policy)
	}
	if q.LimitSize < -1 || q.LimitTime < -1 {
		return fmt.Errorf("%w: backlog quota limits must be ≥ -1, got size %d, time %d", errPrecondition, q.LimitSize, q.LimitTime)
	}
	if typ == "message_age" && q.LimitTime <= 0 {
		return fmt.Errorf("%w: a message_age quota needs limitTime > 0", errPrecondition)
	}
	return nil
}

func validatePersistence(v resources.PersistencePolicies) error {
	if !(v.BookkeeperEnsemble >= v.BookkeeperWriteQuorum && v.BookkeeperWriteQuorum >= v.BookkeeperAckQuorum && v.BookkeeperAckQuorum >= 1) {
		return fmt.Errorf("%w: want ensemble ≥ write quorum ≥ ack quorum ≥ 1, got %d/%d/%d", errPrecondition,
			v.BookkeeperEnsemble, v.BookkeeperWriteQuorum, v.BookkeeperAckQuorum)
	}
	if v.ManagedLedgerMaxMarkDeleteRate < 0 {
		return fmt.Errorf("%w: managedLedgerMaxMarkDeleteRate must be ≥ 0", errPrecondition)
	}
	return nil
}

func validateAutoTopicCreation(v resources.AutoTopicCreation) error {
	switch v.Type {
	case "non-partitioned":
	case "partitioned":
		if v.DefaultNumPartitions < 1 {
			return fmt.Errorf("%w: a partitioned auto-creation type needs defaultNumPartitions ≥ 1", errPrecondition)
		}
	default:
		if v.Allow || v.Type != "" {
			return fmt.Errorf("%w: topicType must be \"partitioned\" or \"non-partitioned\", got %q", errPrecondition, v.Type)
		}
	}
	return nil
}

// validatePolicies checks a whole policies record (namespace creation).
func validatePolicies(p *resources.Policies) error {
	if p.MessageTTLInSeconds < 0 || p.MaxProducersPerTopic < 0 || p.MaxConsumersPerTopic < 0 {
		return fmt.Errorf("%w: message TTL and producer/consumer limits must be ≥ 0", errPrecondition)
	}
	if p.Retention != nil {
		if err := validateRetention(*p.Retention); err != nil {
			return err
		}
	}
	if p.Persistence != nil {
		if err := validatePersistence(*p.Persistence); err != nil {
			return err
		}
	}
	if p.AutoTopicCreationOverride != nil {
		if err := validateAutoTopicCreation(*p.AutoTopicCreationOverride); err != nil {
			return err
		}
	}
	if err := validateNamespaceOffload(p); err != nil {
		return err
	}
	for typ, q := range p.BacklogQuotas {
		if typ != "destination_storage" && typ != "message_age" {
			return fmt.Errorf("%w: unknown backlog quota type %q", errPrecondition, typ)
		}
		if err := validateBacklogQuota(typ, q); err != nil {
			return err
		}
	}
	return nil
}

// parseBacklogQuota reads a backlog-quota POST (type from the query, quota from the
// body) and returns the change to apply to a quota map, namespace's or topic's alike.
func parseBacklogQuota(r *http.Request) (func(*map[string]resources.BacklogQuota), error) {
	typ, err := backlogQuotaType(r)
	if err != nil {
		return nil, err
	}
	var q resources.BacklogQuota
	if err := decodeBody(r, &q, false); err != nil {
		return nil, err
	}
	if err := validateBacklogQuota(typ, q); err != nil {
		return nil, err
	}
	return func(m *map[string]resources.BacklogQuota) {
		if *m == nil {
			*m = map[string]resources.BacklogQuota{}
		}
		(*m)[typ] = q
	}, nil
}

// removeBacklogQuota returns the change a backlog-quota DELETE applies to a quota map.
func removeBacklogQuota(r *http.Request) (func(*map[string]resources.BacklogQuota), error) {
	typ, err := backlogQuotaType(r)
	if err != nil {
		return nil, err
	}
	return func(m *map[string]resources.BacklogQuota) {
		delete(*m, typ)
		if len(*m) == 0 {
			*m = nil
		}
	}, nil
}
