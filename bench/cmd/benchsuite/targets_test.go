package main

import (
	"testing"

	"github.com/strata-io/strata/bench/internal/report"
)

func TestTargets(t *testing.T) {
	r := report.New()
	for k, v := range map[string]float64{
		"standalone.publish_max.msg_per_sec": 120_000,
		"nats.default.best.msg_per_sec":      100_000,
		"nats.durable.best.msg_per_sec":      45_000, // 120k is 2.7×: a miss
		"standalone.rate_half.p99_ms":        9,      // > 5 ms but ≤ 2 × 6 ms
		"disk.append1k.p99_ms":               6,
		"cluster.rate_half.p99_ms":           13,
		"standalone.e2e.p99_ms":              10,
		"standalone.e2e.publish_p99_ms":      8,
		"cluster.publish_max.msg_per_sec":    60_000,
		"standalone.catchup.msg_per_sec":     240_000,
		"standalone.ready_ms":                120,
		"standalone.idle_rss_mb":             100,
		"standalone.idle_topics.rss_mb":      900,
	} {
		r.Add("s", k, k, v, "")
	}
	want := map[string]string{
		"durable publish, standalone batched, vs NATS default sync": report.Pass,
		"durable publish, standalone batched, vs NATS sync always":  report.Miss,
		"standalone: publish p99 at half max":                       report.Pass,
		"cluster: publish p99 at half max":                          report.Miss,
		"standalone: e2e p99 at 10,000 msg/s":                       report.Pass,
		"cluster: e2e p99 at 10,000 msg/s":                          report.NA, // not measured
		"3-bookie replicated publish vs standalone":                 report.Miss,
		"standalone: catch-up read vs max publish":                  report.Pass,
		"cluster: catch-up read vs max publish":                     report.NA,
		"standalone ready":                                          report.Pass,
		"standalone idle RSS":                                       report.Miss, // not < 100
		"10,000 idle topics, one subscription each (RSS)":           report.Pass,
	}
	got := targets(r, fullPlan())
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d: %+v", len(got), len(want), got)
	}
	for _, tg := range got {
		if tg.Status != want[tg.Name] {
			t.Errorf("%s: %s (%s), want %s", tg.Name, tg.Status, tg.Figure, want[tg.Name])
		}
	}
	// A quick run measures fewer idle topics: that target is not judged.
	for _, tg := range targets(r, quickPlan()) {
		if tg.Name == "10,000 idle topics, one subscription each (RSS)" && tg.Status != report.NA {
			t.Errorf("quick run: %s is %s, want n/a", tg.Name, tg.Status)
		}
	}
}

func TestAttachRefs(t *testing.T) {
	s := &suite{rep: report.New()}
	add := func(k string, v float64) *report.Figure { return s.rep.Add("s", k, k, v, "") }
	add("disk.append1k.per_sec", 5000)
	add("disk.append1k.p99_ms", 0.5)
	add("disk.append1k.p999_ms", 2)
	add("disk.group64k.msg_per_sec", 200_000)
	natsSync := add("nats.durable.sync.msg_per_sec", 2500)
	natsBatch := add("nats.durable.batch_1000.msg_per_sec", 40_000)
	add("nats.durable.best.msg_per_sec", 40_000)
	ndSync := add("nats.default.sync.msg_per_sec", 10_000)
	add("nats.default.best.msg_per_sec", 100_000)
	pub := add("standalone.publish_max.msg_per_sec", 120_000)
	p99 := add("cluster.rate_half.p99_ms", 1)
	e2e := add("standalone.e2e.publish_p99_ms", 1)
	p999 := add("standalone.e2e.p999_ms", 4)
	minus := add("standalone.e2e.minus_publish_p99_ms", 0.3)
	s.attachRefs()

	check := func(name string, r *report.Ref, refName string, ratio float64) {
		t.Helper()
		if r == nil || r.Name != refName || r.Ratio != ratio {
			t.Errorf("%s: ref %+v, want %s at %v×", name, r, refName, ratio)
		}
	}
	check("nats sync limit", natsSync.Limit, "synced appends", 0.5)
	check("nats batch limit", natsBatch.Limit, "disk group commit", 0.2)
	check("publish max peer", pub.Peer, "best mode", 3)
	check("publish max peer not durable", pub.PeerNotDurable, "best mode", 1.2)
	check("publish max limit", pub.Limit, "disk group commit", 0.6)
	check("p99 limit", p99.Limit, "fsync p99", 2)
	check("e2e publish p99 limit", e2e.Limit, "fsync p99", 2)
	check("p99.9 limit", p999.Limit, "fsync p99.9", 2)
	if ndSync.Limit != nil || minus.Limit != nil {
		t.Errorf("refs on figures with no limit: %+v, %+v", ndSync.Limit, minus.Limit)
	}
}
