package main

import (
	"strings"

	"github.com/strata-io/strata/bench/internal/report"
)

// attachRefs gives each figure its references: the peer's comparable figure, durable and
// not, and the machine limit it runs into. A figure whose reference was not measured
// gets none.
//
//   - publish rates: NATS's best publish mode; the disk's group-commit rate in 1 KiB
//     messages (for NATS's sync mode, one fsync per message: the synced-append rate);
//   - publish and end-to-end latency percentiles: the disk's synced-append latency at the
//     same percentile (p99 to p99), the least a durable acknowledgement can take;
//   - catch-up reads: NATS's durable consumer; loopback TCP throughput (MB/s).
func (s *suite) attachRefs() {
	r := s.rep
	get := func(k string) *report.Figure { f, _ := r.Get(k); return f }
	natsBest, natsBestND := get("nats.durable.best.msg_per_sec"), get("nats.default.best.msg_per_sec")
	diskMsgs := get("disk.group64k.msg_per_sec")
	diskMB := get("disk.group64k.mb_per_sec")
	pctRef := map[string]*report.Figure{
		"p50_ms":  get("disk.append1k.p50_ms"),
		"p99_ms":  get("disk.append1k.p99_ms"),
		"p999_ms": get("disk.append1k.p999_ms"),
	}
	for _, f := range r.Figures {
		k := f.Key
		switch {
		case strings.HasPrefix(k, "nats.durable.") && strings.HasSuffix(k, ".sync.msg_per_sec"):
			// One message per fsync.
			f.Limit = report.NewRef("synced appends", f.Value, get("disk.append1k.per_sec"))
		case strings.HasPrefix(k, "nats.durable.") && strings.HasSuffix(k, ".msg_per_sec") &&
			!strings.Contains(k, ".best.") && !strings.Contains(k, ".consume."):
			f.Limit = report.NewRef("disk group commit", f.Value, diskMsgs)
		case !isStrata(k):
			// The not-durable peer syncs nothing; the peer's reads have no write limit.
		case strings.HasSuffix(k, ".publish_max.msg_per_sec"):
			f.Peer = report.NewRef("best mode", f.Value, natsBest)
			f.PeerNotDurable = report.NewRef("best mode", f.Value, natsBestND)
			f.Limit = report.NewRef("disk group commit", f.Value, diskMsgs)
		case strings.HasSuffix(k, ".publish_max.mb_per_sec"):
			f.Limit = report.NewRef("disk group commit", f.Value, diskMB)
		case strings.HasSuffix(k, ".catchup.msg_per_sec"):
			f.Peer = report.NewRef("durable consumer", f.Value, get("nats.durable.consume.msg_per_sec"))
		case strings.HasSuffix(k, ".catchup.mb_per_sec"):
			f.Limit = report.NewRef("loopback 1 stream", f.Value, get("loopback.64k.mb_per_sec"))
		case strings.HasSuffix(k, "_ms") && !strings.Contains(k, "ready") && !strings.Contains(k, "minus"):
			for suffix, ref := range pctRef {
				if strings.HasSuffix(k, "."+suffix) || strings.HasSuffix(k, "_"+suffix) {
					name := "fsync " + strings.TrimSuffix(strings.Replace(suffix, "p999", "p99.9", 1), "_ms")
					f.Limit = report.NewRef(name, f.Value, ref)
				}
			}
		}
	}
}

func isStrata(key string) bool {
	return strings.HasPrefix(key, "standalone.") || strings.HasPrefix(key, "cluster.")
}

func thousands(v float64) string { return report.Thousands(v) }
