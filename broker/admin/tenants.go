package admin

import (
	"fmt"
	"net/http"

	"github.com/strata-io/strata/broker/resources"
)

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

// tenantBody reads and checks a tenant record: its allowed clusters must exist, and an
// existing tenant's namespaces must not use a cluster the new list leaves out.
func (a *API) tenantBody(r *http.Request, tenant string) (resources.TenantInfo, error) {
	var info resources.TenantInfo
	if err := decodeBody(r, &info, true); err != nil {
		return info, err
	}
	for _, role := range info.AdminRoles {
		if role == "" {
			return info, fmt.Errorf("%w: empty admin role", errPrecondition)
		}
	}
	return info, a.svc.Namespaces.CheckTenantClusters(r.Context(), tenant, info, a.cfg.Cluster)
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) {
	t, err := tenantOf(r)
	if !handle(w, err) {
		return
	}
	info, err := a.tenantBody(r, t)
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
	info, err := a.tenantBody(r, t)
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
