package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// Config configures the admin API.
type Config struct {
	Service *service.Service // required
	// Cluster is the one cluster this broker belongs to.
	Cluster string
	// BrokerURL (pulsar://host:port) and HTTPURL (http://host:port) are what lookups
	// and GET /admin/v2/clusters/{c} advertise.
	BrokerURL, HTTPURL string
	// Bookies lists the live bookies for GET /admin/v2/bookies/all (nil: none).
	Bookies func(ctx context.Context) ([]registry.Info, error)
	// Store is the metadata store, for the bookie maintenance endpoints
	// (under-replicated ledgers, decommission; bookies.go). nil: they answer 501.
	Store *metadata.Store
}

// API serves the admin REST API.
type API struct {
	cfg Config
	svc *service.Service
}

// Register adds the admin v2 and lookup routes to mux.
func Register(mux *http.ServeMux, cfg Config) *API {
	a := &API{cfg: cfg, svc: cfg.Service}
	a.routes(mux)
	return a
}

func (a *API) routes(mux *http.ServeMux) {
	const v2 = "/admin/v2"
	// Clusters and tenants.
	a.clusterRoutes(mux, v2)
	mux.HandleFunc("GET "+v2+"/tenants", a.listTenants)
	mux.HandleFunc("GET "+v2+"/tenants/{tenant}", a.getTenant)
	mux.HandleFunc("PUT "+v2+"/tenants/{tenant}", a.createTenant)
	mux.HandleFunc("POST "+v2+"/tenants/{tenant}", a.updateTenant)
	mux.HandleFunc("DELETE "+v2+"/tenants/{tenant}", a.deleteTenant)

	// Namespaces and their policies.
	const ns = v2 + "/namespaces/{tenant}/{namespace}"
	mux.HandleFunc("GET "+v2+"/namespaces/{tenant}", a.listNamespaces)
	mux.HandleFunc("PUT "+ns, a.createNamespace)
	mux.HandleFunc("GET "+ns, a.getPolicies)
	mux.HandleFunc("DELETE "+ns, a.deleteNamespace)
	mux.HandleFunc("GET "+ns+"/topics", a.namespaceTopics)
	mux.HandleFunc("GET "+ns+"/bundles", a.getBundles)
	mux.HandleFunc("PUT "+ns+"/unload", a.unloadNamespace)
	mux.HandleFunc("PUT "+ns+"/{bundle}/unload", a.unloadBundle)
	mux.HandleFunc("PUT "+ns+"/{bundle}/split", a.splitBundle)
	a.policyRoutes(mux, ns)

	// Persistent topics.
	const tns = v2 + "/persistent/{tenant}/{namespace}"
	const t = tns + "/{topic}"
	mux.HandleFunc("GET "+tns, a.listTopics)
	mux.HandleFunc("GET "+tns+"/partitioned", a.listPartitionedTopics)
	// No non-persistent topics yet; pulsaradmin's topic list asks for both domains.
	mux.HandleFunc("GET "+v2+"/non-persistent/{tenant}/{namespace}", a.listNonPersistent)
	mux.HandleFunc("GET "+v2+"/non-persistent/{tenant}/{namespace}/partitioned", a.listNonPersistent)
	mux.HandleFunc("PUT "+t, a.owned(a.createTopic))
	mux.HandleFunc("DELETE "+t, a.owned(a.deleteTopic))
	mux.HandleFunc("PUT "+t+"/partitions", a.createPartitionedTopic)
	mux.HandleFunc("POST "+t+"/partitions", a.updatePartitionedTopic)
	mux.HandleFunc("GET "+t+"/partitions", a.getPartitionedMetadata)
	mux.HandleFunc("DELETE "+t+"/partitions", a.deletePartitionedTopic)
	mux.HandleFunc("GET "+t+"/stats", a.owned(a.topicStats))
	mux.HandleFunc("GET "+t+"/partitioned-stats", a.partitionedStats)
	mux.HandleFunc("GET "+t+"/internalStats", a.owned(a.internalStats))
	mux.HandleFunc("POST "+t+"/terminate", a.owned(a.terminate))
	mux.HandleFunc("PUT "+t+"/unload", a.owned(a.unload))
	mux.HandleFunc("GET "+t+"/lastMessageId", a.owned(a.lastMessageID))
	mux.HandleFunc("PUT "+t+"/offload", a.owned(a.triggerOffload))
	mux.HandleFunc("GET "+t+"/offload", a.owned(a.offloadStatus))
	a.topicPolicyRoutes(mux, t)
	a.replicationRoutes(mux, ns, t)

	// Brokers and bookies.
	mux.HandleFunc("GET "+v2+"/brokers", a.listBrokers)
	mux.HandleFunc("GET "+v2+"/brokers/{cluster}", a.listClusterBrokers)
	mux.HandleFunc("GET "+v2+"/brokers/{cluster}/{broker}/ownedNamespaces", a.ownedNamespaces)
	mux.HandleFunc("GET "+v2+"/broker-stats/load-report", a.loadReport)
	mux.HandleFunc("GET "+v2+"/broker-stats/brokers", a.brokersLoad)
	mux.HandleFunc("GET "+v2+"/bookies/all", a.listBookies)
	mux.HandleFunc("GET "+v2+"/bookies/underreplicated", a.underReplicated)
	mux.HandleFunc("POST "+v2+"/bookies/{bookie}/decommission", a.decommission)
	mux.HandleFunc("GET "+v2+"/bookies/{bookie}/decommission", a.decommissionStatus)
	mux.HandleFunc("DELETE "+v2+"/bookies/{bookie}/decommission", a.cancelDecommission)

	// Subscriptions and messages.
	const sub = t + "/subscription/{sub}"
	mux.HandleFunc("GET "+t+"/subscriptions", a.owned(a.listSubscriptions))
	mux.HandleFunc("PUT "+sub, a.owned(a.createSubscription))
	mux.HandleFunc("DELETE "+sub, a.owned(a.deleteSubscription))
	mux.HandleFunc("POST "+sub+"/resetcursor", a.owned(a.resetCursorToID))
	mux.HandleFunc("POST "+sub+"/resetcursor/{timestamp}", a.owned(a.resetCursorToTime))
	mux.HandleFunc("POST "+sub+"/skip/{n}", a.owned(a.skip))
	mux.HandleFunc("POST "+sub+"/skip_all", a.owned(a.clearBacklog))
	mux.HandleFunc("POST "+sub+"/expireMessages/{seconds}", a.owned(a.expireMessages))
	mux.HandleFunc("GET "+sub+"/position/{n}", a.owned(a.peek))
	mux.HandleFunc("GET "+t+"/ledger/{ledger}/entry/{entry}", a.owned(a.getMessageByID))

	// HTTP lookup and schemas (pulsar-client-go with an http:// service URL).
	mux.HandleFunc("GET /lookup/v2/topic/{domain}/{tenant}/{namespace}/{topic}", a.lookupTopic)
	mux.HandleFunc("GET "+v2+"/schemas/{tenant}/{namespace}/{topic}/schema", a.getSchema)
	mux.HandleFunc("GET "+v2+"/schemas/{tenant}/{namespace}/{topic}/schema/{version}", a.getSchema)

	// Anything else under the API answers in Pulsar's error shape.
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeReason(w, http.StatusNotFound, fmt.Sprintf("no such admin endpoint: %s %s", r.Method, r.URL.Path))
	}
	mux.HandleFunc(v2+"/", notFound)
	mux.HandleFunc("/lookup/v2/", notFound)
}

// Guard refuses, with 400 and a reason, any request whose path has a "." or ".."
// segment, percent-encoded or not: ServeMux would redirect it to the cleaned path, and
// a name must never be able to climb out of its place in a path or a metadata key.
func Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, seg := range strings.Split(r.URL.EscapedPath(), "/") {
			if s, err := url.PathUnescape(seg); err == nil && (s == "." || s == "..") || seg == "." || seg == ".." {
				writeReason(w, http.StatusBadRequest, "path segments \".\" and \"..\" are not allowed")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// maxBody bounds a request body.
const maxBody = 1 << 20

// readBody reads the request body (at most maxBody bytes), trimmed.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %v", errBadRequest, err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("%w: body larger than %d bytes", errBadRequest, maxBody)
	}
	return bytes.TrimSpace(b), nil
}

// decodeBody decodes a JSON body into v. An empty or null body leaves v as it is when
// optional, and is an error otherwise.
func decodeBody(r *http.Request, v any, optional bool) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if len(b) == 0 || string(b) == "null" {
		if optional {
			return nil
		}
		return fmt.Errorf("%w: a JSON body is required", errBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: invalid JSON body: %v", errBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON body", errBadRequest)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// tenantOf validates the {tenant} path segment.
func tenantOf(r *http.Request) (string, error) {
	t := r.PathValue("tenant")
	return t, topic.ValidateTenant(t)
}

// namespaceOf validates {tenant}/{namespace}.
func namespaceOf(r *http.Request) (string, error) {
	ns := r.PathValue("tenant") + "/" + r.PathValue("namespace")
	return ns, topic.ValidateNamespace(ns)
}

// topicOf parses the persistent topic named by the path.
func topicOf(r *http.Request) (topic.Name, error) {
	return topic.Parse("persistent://" + r.PathValue("tenant") + "/" + r.PathValue("namespace") + "/" + r.PathValue("topic"))
}

// pathInt parses a non-negative integer path segment.
func pathInt(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s %q is not a non-negative integer", errBadRequest, name, s)
	}
	return n, nil
}

// boolQuery parses an optional boolean query parameter.
func boolQuery(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%w: query parameter %s=%q is not a boolean", errBadRequest, name, s)
	}
	return b, nil
}

// handle wraps a handler returning an error.
func handle(w http.ResponseWriter, err error) bool {
	if err != nil {
		writeError(w, err)
		return false
	}
	return true
}
