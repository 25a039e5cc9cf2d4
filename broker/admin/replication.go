package admin

import "net/http"

// Replication configuration: a namespace's replication clusters
// (GET/POST .../namespaces/{t}/{ns}/replication) and allowed clusters (PIP-321,
// .../allowedClusters), and a topic's replication clusters (GET/POST/DELETE
// .../persistent/{t}/{ns}/{topic}/replication). The checks and their statuses are
// resources' (replication.go). Replication itself does not run yet.

func (a *API) replicationRoutes(mux *http.ServeMux, ns, t string) {
	mux.HandleFunc("GET "+ns+"/replication", a.getReplicationClusters)
	mux.HandleFunc("POST "+ns+"/replication", a.setReplicationClusters)
	mux.HandleFunc("GET "+ns+"/allowedClusters", a.getAllowedClusters)
	mux.HandleFunc("POST "+ns+"/allowedClusters", a.setAllowedClusters)
	mux.HandleFunc("GET "+t+"/replication", a.getTopicReplicationClusters)
	mux.HandleFunc("POST "+t+"/replication", a.setTopicReplicationClusters)
	mux.HandleFunc("DELETE "+t+"/replication", a.removeTopicReplicationClusters)
}

// clusterList reads a JSON array of cluster names; an empty or null body is an empty
// list, which the setters refuse with Pulsar's reason.
func clusterList(r *http.Request) ([]string, error) {
	var list []string
	err := decodeBody(r, &list, true)
	return list, err
}

func (a *API) getReplicationClusters(w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceOf(r)
	if !handle(w, err) {
		return
	}
	p, err := a.svc.Namespaces.Policies(r.Context(), ns)
	if handle(w, err) {
		writeJSON(w, p.EffectiveReplicationClusters(a.cfg.Cluster))
	}
}

func (a *API) setReplicationClusters(w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceOf(r)
	if !handle(w, err) {
		return
	}
	list, err := clusterList(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.Namespaces.SetReplicationClusters(r.Context(), ns, list)) {
		noContent(w)
	}
}

func (a *API) getAllowedClusters(w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceOf(r)
	if !handle(w, err) {
		return
	}
	p, err := a.svc.Namespaces.Policies(r.Context(), ns)
	if handle(w, err) {
		writeJSON(w, p.EffectiveAllowedClusters(a.cfg.Cluster))
	}
}

func (a *API) setAllowedClusters(w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceOf(r)
	if !handle(w, err) {
		return
	}
	list, err := clusterList(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.Namespaces.SetAllowedClusters(r.Context(), ns, list, a.cfg.Cluster)) {
		noContent(w)
	}
}

// getTopicReplicationClusters: the topic's override (null when none), or with
// ?applied=true the clusters the topic lives in (override, else the namespace's).
func (a *API) getTopicReplicationClusters(w http.ResponseWriter, r *http.Request) {
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
	switch {
	case applied:
		writeJSON(w, tp.Apply(nsPol).EffectiveReplicationClusters(a.cfg.Cluster))
	case len(tp.ReplicationClusters) == 0:
		writeJSON(w, nil)
	default:
		writeJSON(w, tp.ReplicationClusters)
	}
}

func (a *API) setTopicReplicationClusters(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	list, err := clusterList(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.Namespaces.SetTopicReplicationClusters(r.Context(), name, list, a.cfg.Cluster)) {
		noContent(w)
	}
}

func (a *API) removeTopicReplicationClusters(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.Namespaces.RemoveTopicReplicationClusters(r.Context(), name)) {
		noContent(w)
	}
}
