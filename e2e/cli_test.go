package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-io/strata/e2e/harness"
)

// The CLI tests run `strata admin` and `strata client` exactly as a user types them,
// against a real `strata standalone`, and check what they print and their exit status.

const cliTimeout = 60 * time.Second

// cli runs strata and fails the test unless it exits with want.
func cli(t *testing.T, want int, args ...string) string {
	t.Helper()
	out, code := harness.RunToExit(t, cliTimeout, args...)
	if code != want {
		t.Fatalf("strata %s: exit status %d, want %d; output:\n%s", strings.Join(args, " "), code, want, out)
	}
	return out
}

// mustContain fails unless out contains every one of subs.
func mustContain(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Fatalf("output lacks %q:\n%s", s, out)
		}
	}
}

var gotMessage = regexp.MustCompile(`(?m)^----- got message -----\nmessageId:\[(\d+:\d+:-?\d+(?::\d+)?)\], publishTime:\[(\d+)\], eventTime:\[\d+\], key:\[([^\]]*)\], properties:\[([^\]]*)\], content:(.*)$`)

type printedMessage struct{ id, key, props, content string }

// printedMessages parses what `strata client consume` printed.
func printedMessages(out string) []printedMessage {
	var msgs []printedMessage
	for _, m := range gotMessage.FindAllStringSubmatch(out, -1) {
		msgs = append(msgs, printedMessage{id: m[1], key: m[3], props: m[4], content: m[5]})
	}
	return msgs
}

func TestCLIProduceThenConsume(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	const topic = "persistent://public/default/cli-produce-consume"

	out := cli(t, 0, "client", "--url", s.PulsarURL, "produce", topic,
		"-m", "one,two,three", "-n", "2", "-k", "user-1", "-p", "origin=cli", "-p", "run=7")
	mustContain(t, out, "6 messages successfully produced")

	out = cli(t, 0, "client", "--url", s.PulsarURL, "consume", topic,
		"-s", "cli-sub", "-p", "Earliest", "-n", "6")
	mustContain(t, out, "6 messages successfully consumed")
	msgs := printedMessages(out)
	want := []string{"one", "two", "three", "one", "two", "three"}
	if len(msgs) != len(want) {
		t.Fatalf("printed %d messages, want %d:\n%s", len(msgs), len(want), out)
	}
	ids := map[string]bool{}
	for i, m := range msgs {
		if m.content != want[i] || m.key != "user-1" || m.props != "origin=cli, run=7" {
			t.Errorf("message %d = %+v, want content %q, key user-1, properties origin=cli, run=7", i, m, want[i])
		}
		if ids[m.id] {
			t.Errorf("message id %s printed twice", m.id)
		}
		ids[m.id] = true
	}

	// The subscription acknowledged everything: a second run from the same subscription
	// finds only what is produced afterwards, with a rate limit and no key.
	cli(t, 0, "client", "--url", s.PulsarURL, "produce", topic, "-m", "four", "-r", "50", "--disable-batching")
	out = cli(t, 0, "client", "--url", s.PulsarURL, "consume", topic, "-s", "cli-sub", "-n", "1", "-t", "Shared")
	msgs = printedMessages(out)
	if len(msgs) != 1 || msgs[0].content != "four" || msgs[0].key != "null" || msgs[0].props != "" {
		t.Fatalf("after acknowledging all, consumed %+v, want just \"four\" without key or properties:\n%s", msgs, out)
	}
}

func TestCLIPartitionedTopic(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	admin := func(want int, args ...string) string {
		t.Helper()
		return cli(t, want, append([]string{"admin", "--admin-url", s.HTTPURL}, args...)...)
	}
	const topic = "persistent://public/default/cli-partitioned"

	mustContain(t, admin(0, "brokers", "healthcheck"), "ok")
	mustContain(t, admin(0, "topics", "create-partitioned-topic", topic, "-p", "3"), "Created topic "+topic+" with 3 partitions")

	out := admin(0, "topics", "get-partitioned-topic-metadata", topic)
	if !regexp.MustCompile(`(?m)^partitions\s+3$`).MatchString(out) {
		t.Fatalf("table metadata does not say 3 partitions:\n%s", out)
	}
	out = admin(0, "--output", "json", "topics", "get-partitioned-topic-metadata", topic)
	var md struct{ Partitions int }
	if err := json.Unmarshal([]byte(out), &md); err != nil || md.Partitions != 3 {
		t.Fatalf("json metadata = %q (%v), want {\"partitions\": 3}", out, err)
	}

	admin(0, "topics", "update-partitioned-topic", topic, "-p", "5")
	out = admin(0, "-o", "json", "topics", "get-partitioned-topic-metadata", topic)
	if err := json.Unmarshal([]byte(out), &md); err != nil || md.Partitions != 5 {
		t.Fatalf("after update, metadata = %q (%v), want 5 partitions", out, err)
	}
	out = admin(1, "topics", "update-partitioned-topic", topic, "-p", "2")
	mustContain(t, out, "strata admin: topics update-partitioned-topic: 409 Conflict")

	out = admin(0, "topics", "list", "public/default")
	for i := range 5 {
		mustContain(t, out, fmt.Sprintf("%s-partition-%d\n", topic, i))
	}
	out = admin(0, "-o", "json", "topics", "list", "public/default")
	var names []string
	if err := json.Unmarshal([]byte(out), &names); err != nil || len(names) != 5 {
		t.Fatalf("json topic list = %q (%v), want the 5 partitions", out, err)
	}

	out = admin(0, "topics", "lookup", topic+"-partition-0")
	if !regexp.MustCompile(`(?m)^brokerUrl\s+` + regexp.QuoteMeta(s.PulsarURL) + `$`).MatchString(out) {
		t.Fatalf("lookup does not name %s:\n%s", s.PulsarURL, out)
	}

	// Messages flow through all partitions.
	cli(t, 0, "client", "--url", s.PulsarURL, "produce", topic, "-m", "p", "-n", "20")
	out = cli(t, 0, "client", "--url", s.PulsarURL, "consume", topic, "-s", "all", "-p", "Earliest", "-n", "20", "-t", "Failover")
	if n := len(printedMessages(out)); n != 20 {
		t.Fatalf("consumed %d messages from the partitioned topic, want 20:\n%s", n, out)
	}
}

func TestCLIErrors(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	adminArgs := []string{"admin", "--admin-url", s.HTTPURL}
	down := "127.0.0.1:" + strings.Split(harness.FreePort(t), ":")[1]

	for _, tc := range []struct {
		name string
		args []string
		want []string // in the output
	}{
		{"unknown verb", []string{"admin", "topics", "no-such-verb"}, []string{`unknown command "no-such-verb" for "strata admin topics"`}},
		{"typo gets a suggestion", []string{"admin", "topics", "stat", "t"}, []string{"did you mean stats"}},
		{"unknown group", []string{"admin", "topicz"}, []string{`unknown command "topicz"`}},
		{"missing topic", append(adminArgs, "topics", "stats"), []string{"strata admin: topics stats: missing TOPIC"}},
		{"missing flag", append(adminArgs, "topics", "create-partitioned-topic", "t"), []string{"strata admin: topics create-partitioned-topic: missing --partitions"}},
		{"unknown flag", append(adminArgs, "topics", "stats", "t", "--bogus"), []string{"strata admin: topics stats: unknown flag: --bogus"}},
		{"bad output format", append(adminArgs, "-o", "yaml", "topics", "list", "public/default"), []string{"--output must be table or json"}},
		{"invalid topic name", append(adminArgs, "topics", "stats", "persistent://only-two/parts"), []string{"strata admin: topics stats: invalid topic"}},
		{"unknown topic", append(adminArgs, "topics", "stats", "persistent://public/default/no-such-topic"), []string{"strata admin: topics stats: 404 Not Found"}},
		{"unknown partitioned topic", append(adminArgs, "topics", "update-partitioned-topic", "persistent://public/default/no-such-topic", "-p", "4"), []string{"strata admin: topics update-partitioned-topic: 404 Not Found"}},
		{"unknown namespace", append(adminArgs, "topics", "list", "public/no-such-ns"), []string{"strata admin: topics list: 404 Not Found"}},
		{"admin server down", []string{"admin", "--admin-url", "http://" + down, "brokers", "healthcheck"}, []string{"strata admin: brokers healthcheck: cannot reach http://" + down, "connection refused"}},
		{"bad admin url", []string{"admin", "--admin-url", "localhost:8080", "tenants", "list"}, []string{"--admin-url"}},
		{"client unknown flag", []string{"client", "produce", "t", "--bogus"}, []string{"strata client: produce: unknown flag: --bogus"}},
		{"client nothing to send", []string{"client", "--url", s.PulsarURL, "produce", "t"}, []string{"strata client: produce: nothing to send"}},
		{"client bad property", []string{"client", "--url", s.PulsarURL, "produce", "t", "-m", "x", "-p", "novalue"}, []string{`-p "novalue": want key=value`}},
		{"client no subscription", []string{"client", "--url", s.PulsarURL, "consume", "t"}, []string{"strata client: consume: missing --subscription-name"}},
		{"client bad subscription type", []string{"client", "--url", s.PulsarURL, "consume", "t", "-s", "x", "-t", "Bogus"}, []string{"want Exclusive, Shared, Failover or Key_Shared"}},
		{"client server down", []string{"client", "--url", "pulsar://" + down, "--operation-timeout", "2s", "produce", "t", "-m", "x"}, []string{"strata client: produce: creating a producer on t: cannot reach pulsar://" + down}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := harness.RunToExit(t, cliTimeout, tc.args...)
			if code == 0 {
				t.Fatalf("strata %s exited 0; output:\n%s", strings.Join(tc.args, " "), out)
			}
			mustContain(t, out, tc.want...)
		})
	}
}

// TestCLIAdminLifecycle drives tenants, namespaces and their policies, topics and
// subscriptions through `strata admin` as an operator would, checking what each
// command prints back.
func TestCLIAdminLifecycle(t *testing.T) {
	s := harness.StartStandalone(t, t.TempDir())
	admin := func(want int, args ...string) string {
		t.Helper()
		return cli(t, want, append([]string{"admin", "--admin-url", s.HTTPURL}, args...)...)
	}
	jsonOf := func(v any, args ...string) {
		t.Helper()
		out := admin(0, append([]string{"-o", "json"}, args...)...)
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("strata admin %s: not JSON (%v):\n%s", strings.Join(args, " "), err, out)
		}
	}

	mustContain(t, admin(0, "clusters", "list"), "standalone\n")
	mustContain(t, admin(0, "tenants", "create", "acme", "--admin-roles", "admin", "--allowed-clusters", "standalone"), "Created tenant acme")
	admin(0, "tenants", "update", "acme", "--admin-roles", "admin,ops", "--allowed-clusters", "standalone")
	var tenant struct{ AdminRoles, AllowedClusters []string }
	jsonOf(&tenant, "tenants", "get", "acme")
	if strings.Join(tenant.AdminRoles, ",") != "admin,ops" || strings.Join(tenant.AllowedClusters, ",") != "standalone" {
		t.Fatalf("tenant after update = %+v", tenant)
	}
	mustContain(t, admin(0, "tenants", "list"), "acme\n", "public\n")

	const ns = "acme/orders"
	admin(0, "namespaces", "create", ns)
	mustContain(t, admin(0, "namespaces", "list", "acme"), ns+"\n")
	admin(0, "namespaces", "set-retention", ns, "--size", "10M", "--time", "2h")
	out := admin(0, "namespaces", "get-retention", ns)
	if !regexp.MustCompile(`(?m)^retentionSizeInMB\s+10$`).MatchString(out) || !regexp.MustCompile(`(?m)^retentionTimeInMinutes\s+120$`).MatchString(out) {
		t.Fatalf("retention is not 10 MB / 120 min:\n%s", out)
	}
	admin(0, "namespaces", "set-message-ttl", ns, "--ttl", "3600")
	admin(0, "namespaces", "set-backlog-quota", ns, "--limit-size", "1G", "--policy", "producer_request_hold")
	admin(0, "namespaces", "set-deduplication", ns, "--enable")
	admin(0, "namespaces", "set-max-producers-per-topic", ns, "-p", "5")
	admin(0, "namespaces", "set-max-consumers-per-topic", ns, "-c", "6")
	admin(0, "namespaces", "set-persistence", ns, "-e", "1", "-w", "1", "-a", "1")
	admin(0, "namespaces", "set-auto-topic-creation", ns, "--disable")
	var pol struct {
		TTL       int  `json:"message_ttl_in_seconds"`
		Dedup     bool `json:"deduplicationEnabled"`
		MaxProd   int  `json:"max_producers_per_topic"`
		MaxCons   int  `json:"max_consumers_per_topic"`
		Retention struct {
			RetentionSizeInMB int
		} `json:"retention_policies"`
		Quotas map[string]struct {
			LimitSize int64
			Policy    string
		} `json:"backlog_quota_map"`
		Persistence struct{ BookkeeperEnsemble int }
		AutoTopic   struct {
			AllowAutoTopicCreation bool
		} `json:"autoTopicCreationOverride"`
	}
	jsonOf(&pol, "namespaces", "policies", ns)
	q := pol.Quotas["destination_storage"]
	if pol.TTL != 3600 || !pol.Dedup || pol.MaxProd != 5 || pol.MaxCons != 6 || pol.Retention.RetentionSizeInMB != 10 ||
		q.LimitSize != 1<<30 || q.Policy != "producer_request_hold" || pol.Persistence.BookkeeperEnsemble != 1 || pol.AutoTopic.AllowAutoTopicCreation {
		t.Fatalf("policies do not show what was set: %+v", pol)
	}
	out = admin(1, "namespaces", "set-persistence", ns, "-e", "1", "-w", "2", "-a", "1")
	mustContain(t, out, "strata admin: namespaces set-persistence: need ensemble >= write quorum")

	// A topic, a subscription created at the start, five messages, then the cursor verbs.
	const topic = "persistent://acme/orders/events"
	admin(0, "topics", "create", topic)
	admin(0, "topics", "create-subscription", topic, "-s", "audit", "--messageId", "earliest")
	mustContain(t, admin(0, "topics", "subscriptions", topic), "audit\n")
	cli(t, 0, "client", "--url", s.PulsarURL, "produce", topic, "-m", "a,b,c,d,e", "--disable-batching")

	backlog := func() int {
		t.Helper()
		var st struct {
			Subscriptions map[string]struct{ MsgBacklog int }
		}
		jsonOf(&st, "topics", "stats", topic)
		return st.Subscriptions["audit"].MsgBacklog
	}
	if b := backlog(); b != 5 {
		t.Fatalf("backlog after producing 5 = %d", b)
	}
	out = admin(0, "topics", "peek-messages", topic, "-s", "audit", "-n", "2")
	if !regexp.MustCompile(`(?s)Message ID: \d+:0\n.*Payload: a\n\nMessage ID: \d+:1\n.*Payload: b\n`).MatchString(out) {
		t.Fatalf("peek of 2 does not show a then b:\n%s", out)
	}
	admin(0, "topics", "skip", topic, "-s", "audit", "-n", "2")
	if b := backlog(); b != 3 {
		t.Fatalf("backlog after skipping 2 = %d, want 3", b)
	}
	admin(0, "topics", "reset-cursor", topic, "-s", "audit", "-m", "earliest")
	if b := backlog(); b != 5 {
		t.Fatalf("backlog after reset to earliest = %d, want 5", b)
	}
	admin(0, "topics", "clear-backlog", topic, "-s", "audit")
	if b := backlog(); b != 0 {
		t.Fatalf("backlog after clear-backlog = %d, want 0", b)
	}
	admin(0, "topics", "reset-cursor", topic, "-s", "audit", "-t", "1h")
	if b := backlog(); b != 5 {
		t.Fatalf("backlog after reset to an hour ago = %d, want 5", b)
	}
	admin(0, "topics", "expire-messages", topic, "-s", "audit", "-t", "0")
	var internal struct {
		NumberOfEntries int
		Cursors         map[string]struct{ MarkDeletePosition string }
	}
	jsonOf(&internal, "topics", "stats-internal", topic)
	if internal.NumberOfEntries != 5 || internal.Cursors["audit"].MarkDeletePosition == "" {
		t.Fatalf("stats-internal = %+v, want 5 entries and the audit cursor", internal)
	}
	admin(0, "topics", "unsubscribe", topic, "-s", "audit")
	mustContain(t, admin(0, "topics", "terminate", topic), "successfully terminated at")
	out, code := harness.RunToExit(t, cliTimeout, "client", "--url", s.PulsarURL, "produce", topic, "-m", "late")
	if code == 0 {
		t.Fatalf("producing to a terminated topic succeeded:\n%s", out)
	}
	admin(0, "topics", "unload", topic)
	admin(0, "topics", "delete", topic)
	mustContain(t, admin(1, "topics", "delete", topic), "strata admin: topics delete: 404 Not Found")

	admin(0, "namespaces", "delete", ns)
	admin(0, "tenants", "delete", "acme")
	if out := admin(0, "tenants", "list"); strings.Contains(out, "acme") {
		t.Fatalf("acme still listed after delete:\n%s", out)
	}
}
