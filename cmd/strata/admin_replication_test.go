package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/spf13/pflag"

	"github.com/strata-io/strata/bookie/bookietest"
	"github.com/strata-io/strata/broker/admin"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/internal/testenv"
)

func TestClusterFlagsData(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want utils.ClusterData
	}{
		{"nothing: every field sent empty", nil, utils.ClusterData{Name: "west", PeerClusterNames: []string{}}},
		{"every flag", []string{"--url", "http://west:8080", "--url-secure", "https://west:8443",
			"--broker-url", "pulsar://west:6650", "--broker-url-secure", "pulsar+ssl://west:6651",
			"--cluster-auth-plugin", "token", "--cluster-auth-parameters", "token:x", "--tls-enable",
			"--tls-trust-certs-filepath", "/etc/ca.pem", "--peer-clusters", "east,south"},
			utils.ClusterData{Name: "west", ServiceURL: "http://west:8080", ServiceURLTls: "https://west:8443",
				BrokerServiceURL: "pulsar://west:6650", BrokerServiceURLTls: "pulsar+ssl://west:6651",
				AuthenticationPlugin: "token", AuthenticationParameters: "token:x", BrokerClientTLSEnabled: true,
				BrokerClientTrustCertsFilePath: "/etc/ca.pem", PeerClusterNames: []string{"east", "south"}}},
		{"pulsarctl's repeated -p", []string{"-p", "east", "-p", "south"},
			utils.ClusterData{Name: "west", PeerClusterNames: []string{"east", "south"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := pflag.NewFlagSet("test", pflag.ContinueOnError)
			var c clusterFlags
			addClusterFlags(f, &c)
			if err := f.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if got := c.data("west"); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("data %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestClusterNameFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{nil, "standalone", ""},
		{[]string{"--cluster-name", "west"}, "west", ""},
		{[]string{"--cluster", "prod"}, "prod", ""}, // the older spelling still works
		{[]string{"--cluster-name", "us.west"}, "", "no '.'"},
		{[]string{"--cluster-name", ""}, "", "1 to 128"},
		{[]string{"--cluster-name", "global"}, "", "reserved"},
	} {
		f := pflag.NewFlagSet("test", pflag.ContinueOnError)
		var name string
		addClusterNameFlag(f, &name)
		if err := f.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := checkClusterName(name)
		switch {
		case tc.wantErr == "" && (err != nil || name != tc.want):
			t.Errorf("%v: name %q, %v; want %q", tc.args, name, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: error %v, want one with %q", tc.args, err, tc.wantErr)
		}
	}
}

// TestReplicationVerbs runs the cluster and replication-configuration verbs, in order,
// against a real broker's admin API (embedded etcd, one in-process bookie) and checks
// what each prints.
func TestReplicationVerbs(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	c := bookietest.Start(t, "/clirepl", 1)
	mlf := managedledger.NewFactory(c.Store, c.NewClient(), managedledger.Config{})
	svc := service.New(c.Store, mlf, service.Config{})
	t.Cleanup(func() { svc.Close(context.Background()) })
	if err := svc.Namespaces.Bootstrap(ctx, "standalone"); err != nil {
		t.Fatal(err)
	}
	name, _ := topic.Parse("t")
	if err := svc.CreateTopic(ctx, name); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	admin.Register(mux, admin.Config{Service: svc, Cluster: "standalone", HTTPURL: "http://local:8080", BrokerURL: "pulsar://local:6650"})
	srv := httptest.NewServer(admin.Guard(mux))
	t.Cleanup(srv.Close)
	// The admin client keeps idle connections; close them before goleak looks.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clusters", "list"}, "standalone\n"},
		{[]string{"clusters", "create", "west", "--url", "http://west:8080", "--broker-url", "pulsar://west:6650"}, "Created cluster west\n"},
		{[]string{"clusters", "create", "east", "--url", "http://east:8080"}, "Created cluster east\n"},
		{[]string{"clusters", "update", "east", "--url", "http://east2:8080"}, "Updated cluster east\n"},
		{[]string{"-o", "json", "clusters", "get", "east"}, `"serviceUrl": "http://east2:8080"`},
		{[]string{"clusters", "update-peer-clusters", "west", "-p", "east"}, "Updated the peer clusters of west\n"},
		{[]string{"clusters", "get-peer-clusters", "west"}, "east\n"},
		{[]string{"clusters", "update-peer-clusters", "west"}, "Updated the peer clusters of west\n"},
		{[]string{"clusters", "list"}, "east\nstandalone\nwest\n"},
		{[]string{"namespaces", "get-clusters", "public/default"}, "standalone\n"},
		{[]string{"tenants", "update", "public", "--allowed-clusters", "standalone,west,east"}, "Updated tenant public\n"},
		{[]string{"namespaces", "set-clusters", "public/default", "--clusters", "standalone,west"}, "Set the replication clusters of public/default\n"},
		{[]string{"namespaces", "get-clusters", "public/default"}, "standalone\nwest\n"},
		{[]string{"namespaces", "get-allowed-clusters", "public/default"}, "standalone\nwest\n"},
		{[]string{"namespaces", "set-allowed-clusters", "public/default", "--clusters", "standalone,west,east"}, "Set the allowed clusters of public/default\n"},
		{[]string{"namespaces", "get-allowed-clusters", "public/default"}, "east\nstandalone\nwest\n"},
		{[]string{"topics", "get-replication-clusters", "t"}, ""},
		{[]string{"topics", "set-replication-clusters", "t", "--clusters", "standalone,east"}, "Set the replication clusters of persistent://public/default/t\n"},
		{[]string{"topics", "get-replication-clusters", "t"}, "east\nstandalone\n"},
		{[]string{"topics", "remove-replication-clusters", "t"}, "Removed the replication-clusters override of persistent://public/default/t\n"},
		{[]string{"topics", "get-replication-clusters", "t", "--applied"}, "standalone\nwest\n"},
		// A cluster goes once nothing names it.
		{[]string{"namespaces", "set-allowed-clusters", "public/default", "--clusters", "standalone,west"}, "Set the allowed clusters of public/default\n"},
		{[]string{"tenants", "update", "public", "--allowed-clusters", "standalone,west"}, "Updated tenant public\n"},
		{[]string{"clusters", "delete", "east"}, "Deleted cluster east\n"},
		{[]string{"clusters", "list"}, "standalone\nwest\n"},
	} {
		var out bytes.Buffer
		cmd := newAdminCommand(&out)
		cmd.SetArgs(append([]string{"--admin-url", srv.URL}, tc.args...))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := out.String(); got != tc.want && !(strings.HasPrefix(tc.want, `"`) && strings.Contains(got, tc.want)) {
			t.Fatalf("%v printed %q, want %q", tc.args, got, tc.want)
		}
	}
}
