package main

import (
	"fmt"

	"github.com/strata-io/strata/bench/internal/report"
)

// targets judges issue 6's targets from the figures in r. A target whose figures are
// missing is n/a.
func targets(r *report.Report, pl plan) []report.Target {
	val := func(k string) (float64, bool) {
		f, ok := r.Get(k)
		if !ok {
			return 0, false
		}
		return f.Value, true
	}
	var out []report.Target
	add := func(name, goal string, keys []string, judge func(v []float64) (figure string, pass bool)) {
		t := report.Target{Name: name, Goal: goal}
		vs := make([]float64, len(keys))
		for i, k := range keys {
			v, ok := val(k)
			if !ok {
				t.Status, t.Figure, t.Note = report.NA, "-", "not measured: "+k
				out = append(out, t)
				return
			}
			vs[i] = v
		}
		var pass bool
		t.Figure, pass = judge(vs)
		t.Status = report.Miss
		if pass {
			t.Status = report.Pass
		}
		out = append(out, t)
	}
	ratio := func(want float64, what string) func(v []float64) (string, bool) {
		return func(v []float64) (string, bool) {
			x := v[0] / v[1]
			return fmt.Sprintf("%s msg/s = %s %s (%s msg/s)", thousands(v[0]), report.FormatRatio(x), what, thousands(v[1])), x >= want
		}
	}

	add("durable publish, standalone batched, vs NATS default sync", "≥ 1× NATS not durable, best mode",
		[]string{"standalone.publish_max.msg_per_sec", "nats.default.best.msg_per_sec"}, ratio(1, "NATS not durable"))
	add("durable publish, standalone batched, vs NATS sync always", "≥ 4× NATS durable, best mode",
		[]string{"standalone.publish_max.msg_per_sec", "nats.durable.best.msg_per_sec"}, ratio(4, "NATS durable"))
	for _, d := range []string{"standalone", "cluster"} {
		add(d+": publish p99 at half max", "≤ 5 ms or ≤ 2× disk synced-write p99",
			[]string{d + ".rate_half.p99_ms", "disk.append1k.p99_ms"}, func(v []float64) (string, bool) {
				return fmt.Sprintf("%.2f ms (disk p99 %.2f ms: %s)", v[0], v[1], report.FormatRatio(v[0]/v[1])), v[0] <= 5 || v[0] <= 2*v[1]
			})
	}
	for _, d := range []string{"standalone", "cluster"} {
		add(fmt.Sprintf("%s: e2e p99 at %s msg/s", d, thousands(pl.FixedRate)), "≤ publish p99 + 2 ms",
			[]string{d + ".e2e.p99_ms", d + ".e2e.publish_p99_ms"}, func(v []float64) (string, bool) {
				return fmt.Sprintf("%.2f ms vs publish p99 %.2f ms (%+.2f ms)", v[0], v[1], v[0]-v[1]), v[0] <= v[1]+2
			})
	}
	add("3-bookie replicated publish vs standalone", "≥ 60% of standalone",
		[]string{"cluster.publish_max.msg_per_sec", "standalone.publish_max.msg_per_sec"}, func(v []float64) (string, bool) {
			return fmt.Sprintf("%s vs %s msg/s = %.0f%%", thousands(v[0]), thousands(v[1]), 100*v[0]/v[1]), v[0] >= 0.6*v[1]
		})
	for _, d := range []string{"standalone", "cluster"} {
		add(d+": catch-up read vs max publish", "≥ 2× publish max",
			[]string{d + ".catchup.msg_per_sec", d + ".publish_max.msg_per_sec"}, func(v []float64) (string, bool) {
				return fmt.Sprintf("%s vs %s msg/s = %s", thousands(v[0]), thousands(v[1]), report.FormatRatio(v[0]/v[1])), v[0] >= 2*v[1]
			})
	}
	add("standalone ready", "< 1 s", []string{"standalone.ready_ms"}, func(v []float64) (string, bool) {
		return fmt.Sprintf("%.0f ms", v[0]), v[0] < 1000
	})
	add("standalone idle RSS", "< 100 MB", []string{"standalone.idle_rss_mb"}, func(v []float64) (string, bool) {
		return fmt.Sprintf("%.0f MB", v[0]), v[0] < 100
	})
	add("10,000 idle topics, one subscription each (RSS)", "< 1 GB", []string{"standalone.idle_topics.rss_mb"}, func(v []float64) (string, bool) {
		return fmt.Sprintf("%.0f MB", v[0]), v[0] < 1000
	})
	if pl.IdleTopics != 10_000 && len(out) > 0 {
		t := &out[len(out)-1]
		if t.Status != report.NA {
			t.Status, t.Note = report.NA, fmt.Sprintf("this run measured %s topics", thousands(float64(pl.IdleTopics)))
		}
	}
	return out
}
