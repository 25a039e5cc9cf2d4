package admin

import (
	"net/http"

	"github.com/strata-io/strata/broker/resources"
)

// Clusters: GET/PUT/POST/DELETE /admin/v2/clusters/{cluster} with Pulsar's ClusterData
// JSON, and the peer clusters (/clusters/{cluster}/peers). The records live in etcd
// (broker/resources, clusters.go); the local cluster's is created at first start.

func (a *API) clusterRoutes(mux *http.ServeMux, v2 string) {
	const c = "/clusters/{cluster}"
	mux.HandleFunc("GET "+v2+"/clusters", a.listClusters)
	mux.HandleFunc("GET "+v2+c, a.getCluster)
	mux.HandleFunc("PUT "+v2+c, a.createCluster)
	mux.HandleFunc("POST "+v2+c, a.updateCluster)
	mux.HandleFunc("DELETE "+v2+c, a.deleteCluster)
	mux.HandleFunc("GET "+v2+c+"/peers", a.getPeerClusters)
	mux.HandleFunc("POST "+v2+c+"/peers", a.setPeerClusters)
}

func (a *API) clusters() *resources.Clusters { return a.svc.Namespaces.Clusters() }

// listClusters serves GET /admin/v2/clusters: the registered cluster names.
func (a *API) listClusters(w http.ResponseWriter, r *http.Request) {
	names, err := a.clusters().List(r.Context())
	if handle(w, err) {
		writeJSON(w, names)
	}
}

// getCluster serves GET /admin/v2/clusters/{cluster}. The local cluster's record has
// no URLs until an operator sets them; until then this broker's own are served, so that
// a client pointed at any broker of the cluster gets a working address.
func (a *API) getCluster(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("cluster")
	d, err := a.clusters().Get(r.Context(), name)
	if !handle(w, err) {
		return
	}
	if name == a.cfg.Cluster && d.ServiceURL == "" && d.BrokerServiceURL == "" {
		d.ServiceURL, d.BrokerServiceURL = a.cfg.HTTPURL, a.cfg.BrokerURL
	}
	writeJSON(w, d)
}

// clusterBody reads a ClusterData body. The name is the path's, never the body's.
func clusterBody(r *http.Request) (resources.ClusterData, error) {
	var d resources.ClusterData
	err := decodeBody(r, &d, false)
	return d, err
}

func (a *API) createCluster(w http.ResponseWriter, r *http.Request) {
	d, err := clusterBody(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.clusters().Create(r.Context(), r.PathValue("cluster"), d)) {
		noContent(w)
	}
}

func (a *API) updateCluster(w http.ResponseWriter, r *http.Request) {
	d, err := clusterBody(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.clusters().Update(r.Context(), r.PathValue("cluster"), d)) {
		noContent(w)
	}
}

func (a *API) deleteCluster(w http.ResponseWriter, r *http.Request) {
	if handle(w, a.clusters().Delete(r.Context(), r.PathValue("cluster"))) {
		noContent(w)
	}
}

func (a *API) getPeerClusters(w http.ResponseWriter, r *http.Request) {
	d, err := a.clusters().Get(r.Context(), r.PathValue("cluster"))
	if handle(w, err) {
		writeJSON(w, d.PeerClusterNames)
	}
}

func (a *API) setPeerClusters(w http.ResponseWriter, r *http.Request) {
	var peers []string
	if !handle(w, decodeBody(r, &peers, true)) {
		return
	}
	if handle(w, a.clusters().SetPeers(r.Context(), r.PathValue("cluster"), peers)) {
		noContent(w)
	}
}
