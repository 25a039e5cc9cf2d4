package admin

import (
	"net/http"

	"github.com/strata-io/strata/broker/resources"
)

func (a *API) listNamespaces(w http.ResponseWriter, r *http.Request) {
	t, err := tenantOf(r)
	if !handle(w, err) {
		return
	}
	nss, err := a.svc.Namespaces.ListNamespaces(r.Context(), t)
	if handle(w, err) {
		writeJSON(w, nss)
	}
}

// createNamespace creates a namespace; the body (optional) is Pulsar's Policies, of
// which the policies Strata knows are kept (after the same checks as their setters).
func (a *API) createNamespace(w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceOf(r)
	if !handle(w, err) {
		return
	}
	var p resources.Policies
	if !handle(w, decodeBody(r, &p, true)) {
		return
	}
	if !handle(w, validatePolicies(&p)) {
		return
	}
	if !handle(w, a.svc.Namespaces.CheckNamespaceClusters(r.Context(), ns, &p, a.cfg.Cluster)) {
		return
	}
	if handle(w, a.svc.Namespaces.CreateNamespace(r.Context(), ns, p)) {
		noContent(w)
	}
}

func (a *API) getPolicies(w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceOf(r)
	if !handle(w, err) {
		return
	}
	p, err := a.svc.Namespaces.Policies(r.Context(), ns)
	if handle(w, err) {
		writeJSON(w, p)
	}
}

func (a *API) deleteNamespace(w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceOf(r)
	if !handle(w, err) {
		return
	}
	force, err := boolQuery(r, "force")
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.DeleteNamespace(r.Context(), ns, force)) {
		noContent(w)
	}
}
