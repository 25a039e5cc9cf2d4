package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-io/strata/broker/ownership"
	"github.com/strata-io/strata/broker/topic"
)

// Cluster mode: which broker answers for a topic, namespace bundles, broker load.
//
// A request about one topic is served by the broker that owns the topic's bundle. Any
// other broker answers 307 Temporary Redirect to the same path on the owner (Pulsar
// does the same; Go's and Java's HTTP clients follow it, method and body included). A
// bundle nobody owns is assigned as a lookup would: to the least-loaded broker, which
// is then asked with ?authoritative=true and claims it.

// owned wraps a handler of a topic path so that it runs only on the topic's owner.
func (a *API) owned(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		own := a.svc.Ownership()
		if own == nil {
			h(w, r)
			return
		}
		name, err := topicOf(r)
		if err != nil {
			h(w, r) // the handler reports the bad name
			return
		}
		res, err := own.Lookup(r.Context(), name, r.URL.Query().Get("authoritative") == "true")
		if !handle(w, err) {
			return
		}
		if res.Self {
			h(w, r)
			return
		}
		redirectTo(w, r, res.Target.HTTPURL, res.Redirect)
	}
}

// redirectTo answers 307 to the same request on another broker; authoritative marks a
// broker chosen to own a free bundle, so that it claims it rather than choosing again.
func redirectTo(w http.ResponseWriter, r *http.Request, base string, authoritative bool) {
	if base == "" {
		writeReason(w, http.StatusServiceUnavailable, "the owning broker has no HTTP address")
		return
	}
	q := r.URL.Query()
	if authoritative {
		q.Set("authoritative", "true")
	}
	u := strings.TrimSuffix(base, "/") + r.URL.EscapedPath()
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// ownershipOr404 returns the ownership manager, or answers 404 when the broker has none.
func (a *API) ownershipOr404(w http.ResponseWriter) *ownership.Manager {
	own := a.svc.Ownership()
	if own == nil {
		writeReason(w, http.StatusNotFound, "this broker runs without bundle ownership")
	}
	return own
}

// namespaceOf validates the {tenant}/{namespace} of a path.
func (a *API) namespaceOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	ns := r.PathValue("tenant") + "/" + r.PathValue("namespace")
	if _, err := a.svc.Namespaces.Policies(r.Context(), ns); !handle(w, err) {
		return "", false
	}
	return ns, true
}

// getBundles serves GET /admin/v2/namespaces/{t}/{ns}/bundles (Pulsar's BundlesData).
func (a *API) getBundles(w http.ResponseWriter, r *http.Request) {
	own := a.ownershipOr404(w)
	if own == nil {
		return
	}
	ns, ok := a.namespaceOf(w, r)
	if !ok {
		return
	}
	bs, _, err := own.NamespaceBundles(r.Context(), ns)
	if handle(w, err) {
		writeJSON(w, bs)
	}
}

// bundleOf resolves the {bundle} of a path; false when it answered.
func (a *API) bundleOf(w http.ResponseWriter, r *http.Request, own *ownership.Manager) (ownership.Bundle, bool) {
	ns, ok := a.namespaceOf(w, r)
	if !ok {
		return ownership.Bundle{}, false
	}
	b, err := own.ParseBundle(r.Context(), ns, r.PathValue("bundle"))
	if err != nil {
		writeReason(w, http.StatusNotFound, err.Error())
		return ownership.Bundle{}, false
	}
	return b, true
}

// unloadBundle serves PUT /admin/v2/namespaces/{t}/{ns}/{bundle}/unload: the owner
// unloads the bundle's topics and gives the bundle up; the next lookups assign it
// afresh. Another broker redirects to the owner; a bundle nobody owns is a no-op.
func (a *API) unloadBundle(w http.ResponseWriter, r *http.Request) {
	own := a.ownershipOr404(w)
	if own == nil {
		return
	}
	b, ok := a.bundleOf(w, r, own)
	if !ok {
		return
	}
	o, found, err := own.OwnerOf(r.Context(), b)
	if !handle(w, err) {
		return
	}
	if found && o.BrokerID != own.BrokerID() {
		redirectTo(w, r, o.HTTPURL, false)
		return
	}
	if err := own.Release(r.Context(), b); err != nil && !errors.Is(err, ownership.ErrNotOwned) {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// unloadNamespace serves PUT /admin/v2/namespaces/{t}/{ns}/unload: every bundle of the
// namespace is unloaded by its owner (other owners are asked over HTTP).
func (a *API) unloadNamespace(w http.ResponseWriter, r *http.Request) {
	own := a.ownershipOr404(w)
	if own == nil {
		return
	}
	ns, ok := a.namespaceOf(w, r)
	if !ok {
		return
	}
	// One read of the namespace's bundles, then each owner in turn.
	bundles, err := own.List(r.Context(), ns)
	if !handle(w, err) {
		return
	}
	for _, b := range bundles {
		o, found, err := own.OwnerOf(r.Context(), b)
		if !handle(w, err) {
			return
		}
		switch {
		case !found:
		case o.BrokerID == own.BrokerID():
			if err := own.Release(r.Context(), b); err != nil && !errors.Is(err, ownership.ErrNotOwned) {
				writeError(w, err)
				return
			}
		default:
			path := "/admin/v2/namespaces/" + ns + "/" + url.PathEscape(b.Range()) + "/unload"
			if err := a.remote(r, http.MethodPut, o.HTTPURL, path, nil); !handle(w, err) {
				return
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// splitBundle serves PUT /admin/v2/namespaces/{t}/{ns}/{bundle}/split: the bundle is
// cut in two at its midpoint (Pulsar's range_equally_divide) on its owner, which then
// releases it; the halves are assigned by the next lookups.
func (a *API) splitBundle(w http.ResponseWriter, r *http.Request) {
	own := a.ownershipOr404(w)
	if own == nil {
		return
	}
	b, ok := a.bundleOf(w, r, own)
	if !ok {
		return
	}
	if alg := r.URL.Query().Get("splitAlgorithmName"); alg != "" && alg != "range_equally_divide" {
		writeReason(w, http.StatusPreconditionFailed, "unsupported split algorithm "+alg+" (range_equally_divide only)")
		return
	}
	_, err := own.Split(r.Context(), b)
	var no *ownership.NotOwnerError
	if errors.As(err, &no) {
		redirectTo(w, r, no.Owner.HTTPURL, false)
		return
	}
	if handle(w, err) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// brokerLoad is one broker in GET /admin/v2/broker-stats/brokers (Strata's addition):
// the record each live broker keeps in etcd, load included.
type brokerLoad struct {
	ownership.BrokerInfo
	Self bool `json:"self"`
}

// brokersLoad serves GET /admin/v2/broker-stats/brokers: every live broker and its load.
func (a *API) brokersLoad(w http.ResponseWriter, r *http.Request) {
	own := a.ownershipOr404(w)
	if own == nil {
		return
	}
	infos, err := own.Brokers(r.Context())
	if !handle(w, err) {
		return
	}
	out := make([]brokerLoad, len(infos))
	for i, bi := range infos {
		out[i] = brokerLoad{BrokerInfo: bi, Self: bi.ID == own.BrokerID()}
	}
	writeJSON(w, out)
}

// loadReport serves GET /admin/v2/broker-stats/load-report: this broker's load and the
// bundles it owns.
func (a *API) loadReport(w http.ResponseWriter, r *http.Request) {
	own := a.ownershipOr404(w)
	if own == nil {
		return
	}
	bundles := []string{}
	for _, b := range own.Owned() {
		bundles = append(bundles, b.String())
	}
	l := a.svc.Load()
	writeJSON(w, map[string]any{"brokerId": own.BrokerID(), "webServiceUrl": a.cfg.HTTPURL,
		"pulsarServiceUrl": a.cfg.BrokerURL, "numTopics": l.Topics, "numProducers": l.Producers,
		"numConsumers": l.Consumers, "numBundles": len(bundles), "msgRateIn": l.MsgRateIn,
		"msgRateOut": l.MsgRateOut, "msgThroughputIn": l.ThroughputIn, "msgThroughputOut": l.ThroughputOut,
		"bundles": bundles})
}

// ownedNamespaces serves GET /admin/v2/brokers/{cluster}/{broker}/ownedNamespaces:
// Pulsar's map of bundle → NamespaceOwnershipStatus, for this broker (another broker's
// is asked by redirect).
func (a *API) ownedNamespaces(w http.ResponseWriter, r *http.Request) {
	own := a.ownershipOr404(w)
	if own == nil {
		return
	}
	if c := r.PathValue("cluster"); c != a.cfg.Cluster {
		writeReason(w, http.StatusNotFound, "Cluster "+c+" does not exist")
		return
	}
	if want := r.PathValue("broker"); want != a.brokerAddress() && want != own.BrokerID() {
		infos, err := own.Brokers(r.Context())
		if !handle(w, err) {
			return
		}
		for _, bi := range infos {
			if bi.ID == want || strings.TrimPrefix(bi.HTTPURL, "http://") == want {
				redirectTo(w, r, bi.HTTPURL, false)
				return
			}
		}
		writeReason(w, http.StatusNotFound, "no live broker "+want)
		return
	}
	out := map[string]any{}
	for _, b := range own.Owned() {
		out[b.String()] = map[string]any{"broker_assignment": "shared", "is_controlled": false, "is_active": true}
	}
	writeJSON(w, out)
}

// activeBrokers lists the live brokers as Pulsar does: web host:port, no scheme.
func (a *API) activeBrokers(r *http.Request) ([]string, error) {
	own := a.svc.Ownership()
	if own == nil {
		return []string{a.brokerAddress()}, nil
	}
	infos, err := own.Brokers(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(infos))
	for _, bi := range infos {
		addr := bi.HTTPURL
		if addr == "" {
			addr = bi.PulsarURL
		}
		if i := strings.Index(addr, "://"); i >= 0 {
			addr = addr[i+3:]
		}
		out = append(out, addr)
	}
	return out, nil
}

// partitionStats returns one partition's stats, from its owner: this broker, or
// another one asked over HTTP.
func (a *API) partitionStats(r *http.Request, part topic.Name) (topicStats, error) {
	if own := a.svc.Ownership(); own != nil {
		res, err := own.Lookup(r.Context(), part, false)
		if err != nil {
			return topicStats{}, err
		}
		if !res.Self {
			var st topicStats
			path := "/admin/v2/persistent/" + part.Tenant + "/" + part.Namespace + "/" + url.PathEscape(part.Local) + "/stats"
			if res.Redirect {
				path += "?authoritative=true"
			}
			err := a.remote(r, http.MethodGet, res.Target.HTTPURL, path, &st)
			return st, err
		}
	}
	t, err := a.svc.Topic(r.Context(), part, false)
	if err != nil {
		return topicStats{}, err
	}
	return renderStats(t.Stats()), nil
}

// deleteRemotePartitions deletes, on their owners, the partitions of base that another
// broker serves; the caller deletes the rest.
func (a *API) deleteRemotePartitions(r *http.Request, base topic.Name, force bool) error {
	own := a.svc.Ownership()
	if own == nil {
		return nil
	}
	n, err := a.svc.Namespaces.PartitionedMetadata(r.Context(), base)
	if err != nil || n == 0 {
		return nil // the service reports it
	}
	for i := 0; i < n; i++ {
		part := base.Partition(i)
		b, err := own.BundleOf(r.Context(), part)
		if err != nil {
			return err
		}
		o, found, err := own.OwnerOf(r.Context(), b)
		if err != nil {
			return err
		}
		if !found || o.BrokerID == own.BrokerID() {
			continue
		}
		path := "/admin/v2/persistent/" + part.Tenant + "/" + part.Namespace + "/" + url.PathEscape(part.Local) +
			"?force=" + strconv.FormatBool(force)
		if err := a.remote(r, http.MethodDelete, o.HTTPURL, path, nil); err != nil && !errors.Is(err, errRemoteNotFound) {
			return err
		}
	}
	return nil
}

// errRemoteNotFound: another broker answered 404.
var errRemoteNotFound = errors.New("admin: not found on the owning broker")

// remote makes an admin call on another broker and decodes its JSON answer into out
// (when not nil). A non-2xx answer is an error carrying the remote reason.
func (a *API) remote(r *http.Request, method, base, path string, out any) error {
	req, err := http.NewRequestWithContext(r.Context(), method, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %s %s", errRemoteNotFound, method, path)
	}
	if resp.StatusCode/100 != 2 {
		var body struct {
			Reason string `json:"reason"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&body)
		return fmt.Errorf("broker %s answered %s to %s %s: %s", base, resp.Status, method, path, body.Reason)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out)
}
