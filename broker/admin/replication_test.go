package admin

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-io/strata/broker/resources"
)

// The cluster and replication-configuration endpoints, against a real broker service
// (embedded etcd, one in-process bookie: the offload tests' harness, newOffloadAPI).

func TestClusterEndpoints(t *testing.T) {
	a := newOffloadAPI(t)
	const c = "/admin/v2/clusters"

	// The local cluster was registered at bootstrap; with no URLs stored, this broker's
	// are served.
	var names []string
	a.decode(a.expect("GET", c, "", 200), &names)
	if !reflect.DeepEqual(names, []string{"standalone"}) {
		t.Fatalf("clusters %v, want [standalone]", names)
	}

	// pulsaradmin's body: every field, empty ones included; unknown fields ignored.
	west := `{"serviceUrl":"http://west:8080","serviceUrlTls":"","brokerServiceUrl":"pulsar://west:6650",
		"brokerServiceUrlTls":"","peerClusterNames":null,"authenticationPlugin":"","authenticationParameters":"",
		"brokerClientTrustCertsFilePath":"","brokerClientTlsEnabled":false,"brokerClientTlsTrustStoreType":"JKS"}`
	a.expect("PUT", c+"/west", west, 204)
	a.expect("PUT", c+"/west", west, 409)
	// pulsarctl's peer list [""] is no peer.
	a.expect("PUT", c+"/east", `{"serviceUrl":"http://east:8080","peerClusterNames":[""]}`, 204)
	a.decode(a.expect("GET", c, "", 200), &names)
	if !reflect.DeepEqual(names, []string{"east", "standalone", "west"}) {
		t.Fatalf("clusters %v", names)
	}
	var d resources.ClusterData
	a.decode(a.expect("GET", c+"/west", "", 200), &d)
	if d.ServiceURL != "http://west:8080" || d.BrokerServiceURL != "pulsar://west:6650" || d.PeerClusterNames == nil {
		t.Fatalf("west %+v", d)
	}

	// Update replaces the whole record.
	a.expect("POST", c+"/west", `{"serviceUrl":"http://west2:8080"}`, 204)
	a.decode(a.expect("GET", c+"/west", "", 200), &d)
	if d.ServiceURL != "http://west2:8080" || d.BrokerServiceURL != "" {
		t.Fatalf("west after update %+v", d)
	}
	a.expect("POST", c+"/nowhere", `{"serviceUrl":"http://x:8080"}`, 404)

	// Peers: each must exist and not be the cluster itself.
	a.expect("POST", c+"/west/peers", `["east"]`, 204)
	var peers []string
	a.decode(a.expect("GET", c+"/west/peers", "", 200), &peers)
	if !reflect.DeepEqual(peers, []string{"east"}) {
		t.Fatalf("peers %v", peers)
	}
	a.expect("POST", c+"/west/peers", `["west"]`, 412)
	a.expect("POST", c+"/west/peers", `["south"]`, 412)
	a.expect("GET", c+"/south/peers", "", 404)

	// Bad input.
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"PUT", c + "/we.st", `{}`, 412},     // a dot would break the replicator cursor's name
		{"PUT", c + "/global", `{}`, 412},    // Pulsar's pseudo-cluster
		{"PUT", c + "/north", ``, 400},       // no body
		{"PUT", c + "/north", `{"serviceUrl":`, 400},
		{"PUT", c + "/north", `{"serviceUrl":"pulsar://x:6650"}`, 412}, // wrong scheme
		{"PUT", c + "/north", `{"brokerServiceUrl":"http://x:8080"}`, 412},
		{"GET", c + "/nowhere", "", 404},
		{"DELETE", c + "/nowhere", "", 404},
		{"DELETE", c + "/east", "", 412},       // west's peer
		{"DELETE", c + "/standalone", "", 412}, // tenant public allows it
	} {
		a.expect(tc.method, tc.path, tc.body, tc.want)
	}
	a.decode(a.expect("GET", c, "", 200), &names)
	if !reflect.DeepEqual(names, []string{"east", "standalone", "west"}) {
		t.Fatalf("bad input disturbed the clusters: %v", names)
	}

	// Unused clusters can go.
	a.expect("POST", c+"/west/peers", `[]`, 204)
	a.expect("DELETE", c+"/east", "", 204)
	a.expect("DELETE", c+"/west", "", 204)
	a.decode(a.expect("GET", c, "", 200), &names)
	if !reflect.DeepEqual(names, []string{"standalone"}) {
		t.Fatalf("clusters after delete %v", names)
	}
}

func TestReplicationConfigEndpoints(t *testing.T) {
	a := newOffloadAPI(t)
	for _, name := range []string{"west", "east", "south"} {
		a.expect("PUT", "/admin/v2/clusters/"+name, `{"serviceUrl":"http://`+name+`:8080"}`, 204)
	}
	a.expect("PUT", "/admin/v2/tenants/acme", `{"adminRoles":[],"allowedClusters":["standalone","west","east"]}`, 204)
	a.expect("PUT", "/admin/v2/namespaces/acme/orders", "", 204)
	a.expect("PUT", "/admin/v2/persistent/acme/orders/t", "", 204)
	const ns = "/admin/v2/namespaces/acme/orders"
	const tp = "/admin/v2/persistent/acme/orders/t"
	list := func(path string) []string {
		t.Helper()
		var l []string
		a.decode(a.expect("GET", path, "", 200), &l)
		return l
	}

	// Unset: the local cluster only.
	if got := list(ns + "/replication"); !reflect.DeepEqual(got, []string{"standalone"}) {
		t.Fatalf("default replication clusters %v", got)
	}
	a.expect("POST", ns+"/replication", `["standalone","west","west"]`, 204)
	if got := list(ns + "/replication"); !reflect.DeepEqual(got, []string{"standalone", "west"}) {
		t.Fatalf("replication clusters %v", got)
	}
	if got := list(ns + "/allowedClusters"); !reflect.DeepEqual(got, []string{"standalone", "west"}) {
		t.Fatalf("allowed clusters default to the replication clusters: %v", got)
	}
	var pol resources.Policies
	a.decode(a.expect("GET", ns, "", 200), &pol)
	if !reflect.DeepEqual(pol.ReplicationClusters, []string{"standalone", "west"}) {
		t.Fatalf("policies replication_clusters %v", pol.ReplicationClusters)
	}

	// Bad input: Pulsar's statuses with a reason, and nothing changes.
	for _, tc := range []struct {
		path, body string
		want       int
		reason     string
	}{
		{ns + "/replication", `[]`, 412, "should not be null or empty"},
		{ns + "/replication", ``, 412, "should not be null or empty"},
		{ns + "/replication", `["global"]`, 412, "global"},
		{ns + "/replication", `["we.st"]`, 412, "we.st"},
		{ns + "/replication", `["nowhere"]`, 403, "Invalid cluster id: nowhere"},
		{ns + "/replication", `["standalone","south"]`, 403, "allowed clusters list for tenant [acme]"},
		{ns + "/replication", `{"a":1}`, 400, ""},
		{"/admin/v2/namespaces/acme/none/replication", `["west"]`, 404, ""},
		{ns + "/allowedClusters", `["standalone"]`, 400, "replication cluster"},
		{ns + "/allowedClusters", `["standalone","west","south"]`, 403, "tenant [acme]"},
		{ns + "/allowedClusters", `[]`, 412, "should not be null or empty"},
		{tp + "/replication", `["west"]`, 412, "local cluster"},
		{tp + "/replication", `["standalone","east"]`, 403, "namespace [acme/orders]"},
		{tp + "/replication", `["standalone","nowhere"]`, 403, "Invalid cluster id"},
		{tp + "/replication", `[]`, 412, "empty"},
		{"/admin/v2/persistent/acme/orders/missing/replication", `["standalone"]`, 404, ""},
	} {
		got := a.expect("POST", tc.path, tc.body, tc.want)
		if !strings.Contains(got, tc.reason) {
			t.Errorf("POST %s %s: reason %s, want it to mention %q", tc.path, tc.body, got, tc.reason)
		}
	}
	if got := list(ns + "/replication"); !reflect.DeepEqual(got, []string{"standalone", "west"}) {
		t.Fatalf("bad input changed the replication clusters: %v", got)
	}

	// Allowed clusters widen what replication and topics may name.
	a.expect("POST", ns+"/allowedClusters", `["standalone","west","east"]`, 204)
	a.expect("POST", ns+"/replication", `["standalone","east"]`, 204)
	a.expect("POST", ns+"/allowedClusters", `["standalone","west"]`, 400) // east replicates
	// Topic-level override: null when unset, the namespace's when applied.
	if got := a.expect("GET", tp+"/replication", "", 200); got != "null" {
		t.Fatalf("unset topic override %s", got)
	}
	a.expect("POST", tp+"/replication", `["standalone","west"]`, 204)
	if got := list(tp + "/replication"); !reflect.DeepEqual(got, []string{"standalone", "west"}) {
		t.Fatalf("topic override %v", got)
	}
	if got := list(tp + "/replication?applied=true"); !reflect.DeepEqual(got, []string{"standalone", "west"}) {
		t.Fatalf("topic applied %v", got)
	}
	// A namespace cluster in use can be neither deleted nor dropped from the tenant.
	a.expect("DELETE", "/admin/v2/clusters/east", "", 412)
	a.expect("POST", "/admin/v2/tenants/acme", `{"allowedClusters":["standalone","west"]}`, 412)
	a.expect("DELETE", tp+"/replication", "", 204)
	if got := list(tp + "/replication?applied=true"); !reflect.DeepEqual(got, []string{"standalone", "east"}) {
		t.Fatalf("topic applied after removal %v", got)
	}

	// Tenants name only registered clusters; namespaces live within their tenant's.
	a.expect("PUT", "/admin/v2/tenants/other", `{"allowedClusters":["nowhere"]}`, 412)
	a.expect("PUT", "/admin/v2/tenants/other", `{"allowedClusters":["west"]}`, 204)
	a.expect("PUT", "/admin/v2/namespaces/other/ns", "", 403) // the local cluster is not allowed
	a.expect("PUT", "/admin/v2/namespaces/other/ns", `{"replication_clusters":["west"]}`, 204)
	a.expect("PUT", "/admin/v2/namespaces/other/ns2", `{"replication_clusters":["east"]}`, 403)
	a.expect("PUT", "/admin/v2/namespaces/other/ns3", `{"replication_clusters":["west"],"allowed_clusters":["east"]}`, 400)
}

// A tenant update that leaves the cluster lists alone still works as before.
func TestTenantUpdateKeepsWorking(t *testing.T) {
	a := newOffloadAPI(t)
	a.expect("POST", "/admin/v2/tenants/public", `{"adminRoles":["ops"],"allowedClusters":["standalone"]}`, 204)
	a.expect("POST", "/admin/v2/tenants/public", `{"adminRoles":[],"allowedClusters":[]}`, 204)
	var code int
	code, _ = a.call(http.MethodGet, "/admin/v2/tenants/public", "")
	if code != 200 {
		t.Fatalf("GET tenant: %d", code)
	}
}
