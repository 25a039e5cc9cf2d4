package admin

import (
	"fmt"
	"net/http"

	"github.com/strata-io/strata/broker/resources"
)

// clusterData is Pulsar's ClusterData JSON.
type clusterData struct {
	ServiceURL       string   `json:"serviceUrl"`
	ServiceURLTLS    string   `json:"serviceUrlTls"`
	BrokerServiceURL string   `json:"brokerServiceUrl"`
	BrokerServiceTLS string   `json:"brokerServiceUrlTls"`
	PeerClusterNames []string `json:"peerClusterNames"`
}

func (a *API) listClusters(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, []string{a.cfg.Cluster})
}

func (a *API) getCluster(w http.ResponseWriter, r *http.Request) {
	if c := r.PathValue("cluster"); c != a.cfg.Cluster {
		writeReason(w, http.StatusNotFound, fmt.Sprintf("Cluster %q does not exist", c))
		return
	}
	writeJSON(w, clusterData{ServiceURL: a.cfg.HTTPURL, BrokerServiceURL: a.cfg.BrokerURL, PeerClusterNames: []string{}})
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := a.svc.Namespaces.Tenants(r.Context())
	if handle(w, err) {
		writeJSON(w, ts)
	}
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) {
	t, err := tenantOf(r)
	if !handle(w, err) {
		return
	}
	info, err := a.svc.Namespaces.Tenant(r.Context(), t)
	if handle(w, err) {
		writeJSON(w, info)
	}
}

// tenantBody reads and checks a tenant record: its allowed clusters must exist.
func (a *API) tenantBody(r *http.Request) (resources.TenantInfo, error) {
	var info resources.TenantInfo
	if err := decodeBody(r, &info, true); err != nil {
		return info, err
	}
	for _, c := range info.AllowedClusters {
		if c != a.cfg.Cluster {
			return info, fmt.Errorf("%w: cluster %q does not exist", errPrecondition, c)
		}
	}
	for _, role := range info.AdminRoles {
		if role == "" {
			return info, fmt.Errorf("%w: empty admin role", errPrecondition)
		}
	}
	return info, nil
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) {
	t, err := tenantOf(r)
	if !handle(w, err) {
		return
	}
	info, err := a.tenantBody(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.Namespaces.CreateTenant(r.Context(), t, info)) {
		noContent(w)
	}
}

func (a *API) updateTenant(w http.ResponseWriter, r *http.Request) {
	t, err := tenantOf(r)
	if !handle(w, err) {
		return
	}
	info, err := a.tenantBody(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.Namespaces.UpdateTenant(r.Context(), t, info)) {
		noContent(w)
	}
}

func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request) {
	t, err := tenantOf(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.Namespaces.DeleteTenant(r.Context(), t)) {
		noContent(w)
	}
}
