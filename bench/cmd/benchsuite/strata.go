package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-io/strata/bench/internal/strata"
)

func (s *suite) strataStandalone(ctx context.Context) {
	dir := filepath.Join(s.workDir, "standalone")
	defer s.clean(dir)
	s.progress("standalone: starting strata standalone")
	d, err := strata.StartStandalone(ctx, s.strataBin, dir, func(n string) io.Writer { return s.log(n) })
	if err != nil {
		s.rep.Error("standalone: start", err)
		return
	}
	defer d.Stop()
	s.strataLoad(ctx, d, "standalone", secStandalone)
	d.Stop()
	s.clean(dir)
	if ctx.Err() == nil {
		s.strataIdleTopics(ctx)
	}
}

const secStandalone = "Strata standalone (etcd + bookie + broker in one process)"

// strataIdleTopics measures a fresh standalone's memory while it holds IdleTopics topics
// with a subscription and a connected consumer each, and nothing else.
func (s *suite) strataIdleTopics(ctx context.Context) {
	dir := filepath.Join(s.workDir, "standalone-idle")
	defer s.clean(dir)
	key, sec, pl := "standalone", secStandalone, s.plan
	s.progress("standalone: a fresh one, %s idle topics with one subscription (and connected consumer) each", thousands(float64(pl.IdleTopics)))
	d, err := strata.StartStandalone(ctx, s.strataBin, dir, func(n string) io.Writer { return s.log("standalone-idle") })
	if err != nil {
		s.rep.Error("standalone: start for idle topics", err)
		return
	}
	defer d.Stop()
	p := &strata.Perf{Bin: s.strataBin, URL: d.PulsarURL, HTTPURL: d.HTTPURL, Dir: filepath.Join(s.outDir, "perf"), Log: s.log(key + "-perf")}
	var rss int64
	is, err := p.Idle(ctx, key+"-idle", func() error {
		time.Sleep(2 * time.Second) // let the creation's garbage be collected
		var err error
		rss, _, err = d.RSS()
		return err
	}, "--topic", "idle", "--topics", strconv.Itoa(pl.IdleTopics))
	if err != nil {
		s.rep.Error(key+": idle topics", err)
		return
	}
	s.rep.Raw[key+".idle"] = is
	f := s.rep.Add(sec, key+".idle_topics.rss_mb", fmt.Sprintf("RSS with %s idle topics + subscriptions", thousands(float64(is.Subscribed))), float64(rss)/1e6, "MB")
	f.Note = fmt.Sprintf("a fresh process; subscriptions created at %.0f/s", is.PerSec)
	if is.Errors > 0 {
		f.Note += fmt.Sprintf("; %d errors: %s", is.Errors, is.FirstError)
	}
}

func (s *suite) strataCluster(ctx context.Context) {
	dir := filepath.Join(s.workDir, "cluster")
	defer s.clean(dir)
	cfg := strata.ClusterConfig{Bookies: 3, EnsembleSize: 3, WriteQuorum: 2, AckQuorum: 2}
	s.rep.Settings["cluster"] = cfg
	s.progress("cluster: starting etcd (in this process), 3 bookies and a broker (E=3, Qw=2, Qa=2)")
	d, err := strata.StartCluster(ctx, s.strataBin, dir, cfg, func(n string) io.Writer { return s.log("cluster-" + n) })
	if err != nil {
		s.rep.Error("cluster: start", err)
		return
	}
	defer d.Stop()
	s.strataLoad(ctx, d, "cluster", "Strata cluster: 3 bookies + 1 broker, E=3 Qw=2 Qa=2")
}

// strataLoad runs every measurement against d. key prefixes the figures' keys.
func (s *suite) strataLoad(ctx context.Context, d *strata.Deployment, key, sec string) {
	p := &strata.Perf{Bin: s.strataBin, URL: d.PulsarURL, HTTPURL: d.HTTPURL, Dir: filepath.Join(s.outDir, "perf"), Log: s.log(key + "-perf")}
	pl := s.plan
	size := strconv.Itoa(pl.Size)
	timed := []string{"--size", size, "--duration", pl.Measure.String(), "--warmup", pl.Warmup.String()}
	name := func(step string) string { return key + "-" + step }
	raw := func(step string, v any) { s.rep.Raw[key+"."+step] = v }
	mb := func(b int64) float64 { return float64(b) / 1e6 }

	// Start-up and memory before any load.
	f := s.rep.Add(sec, key+".ready_ms", "ready: exec to ready line", float64(d.Broker.ReadyAfter)/1e6, "ms")
	if key == "cluster" {
		f.Note = "the broker, once etcd and the bookies run"
	} else if _, rest, ok := strings.Cut(d.Broker.ReadyLine, "ready in "); ok {
		took, _, _ := strings.Cut(rest, ":")
		f.Note = "the process's own count: " + took
	}
	time.Sleep(time.Second) // let start-up work finish before measuring memory at rest
	if broker, bookies, err := d.RSS(); err != nil {
		s.rep.Error(key+": idle RSS", err)
	} else {
		f := s.rep.Add(sec, key+".idle_rss_mb", "idle RSS of the "+map[bool]string{true: "process", false: "broker"}[key == "standalone"], mb(broker), "MB")
		if len(bookies) > 0 {
			each := make([]string, len(bookies))
			for i, b := range bookies {
				each[i] = fmt.Sprintf("%.0f", mb(b))
			}
			f.Note = "bookies: " + strings.Join(each, ", ") + " MB"
		}
	}

	// Maximum acknowledged publish rate. The catch-up subscription exists first, so that
	// this run's messages are kept as the backlog to read back.
	if err := p.CreateSubscription(ctx, "max", "catchup"); err != nil {
		s.rep.Error(key+": create subscription", err)
	}
	s.progress("%s: maximum publish rate, 1 KiB, batching, %s + %s warm-up", key, pl.Measure, pl.Warmup)
	mx, err := p.Produce(ctx, name("publish-max"), append([]string{"--topic", "max", "--rate", "0"}, timed...)...)
	if err != nil {
		s.rep.Error(key+": publish max", err)
		return // the rest depends on it
	}
	raw("publish_max", mx)
	s.addProduce(sec, key+".publish_max", "max publish", mx)
	s.rep.Add(sec, key+".publish_max.mb_per_sec", "max publish, throughput", mx.Acked.MBPerSec, "MB/s")

	// Catch-up read of the backlog: top it up to Backlog messages if the run above sent
	// fewer (its warm-up is not counted, so the topic holds at least this many).
	if short := int64(pl.Backlog) - int64(mx.Sent); short > 0 {
		s.progress("%s: topping the backlog up by %d messages", key, short)
		if _, err := p.Produce(ctx, name("backlog-topup"), "--topic", "max", "--rate", "0", "--size", size,
			"--messages", strconv.FormatInt(short, 10), "--warmup", "0s"); err != nil {
			s.rep.Error(key+": backlog top-up", err)
		}
	}
	s.progress("%s: catch-up read of %d messages (%.2f GB) from the earliest position", key, pl.Backlog, float64(pl.Backlog*pl.Size)/1e9)
	if c, err := p.Consume(ctx, name("catchup"), "--topic", "max", "--subscription", "catchup", "--initial", "earliest",
		"--messages", strconv.Itoa(pl.Backlog), "--idle-timeout", "10s"); err != nil {
		s.rep.Error(key+": catch-up", err)
	} else {
		raw("catchup", c)
		f := s.rep.Add(sec, key+".catchup.msg_per_sec", "catch-up read", c.Received.MsgPerSec, "msg/s")
		f.Note = fmt.Sprintf("%d messages, %.2f s", c.Received.Messages, c.Received.Seconds)
		s.rep.Add(sec, key+".catchup.mb_per_sec", "catch-up read, throughput", c.Received.MBPerSec, "MB/s")
	}

	// Publish latency at fixed rates.
	half := mx.Acked.MsgPerSec / 2
	for _, r := range []struct {
		step, label string
		rate        float64
	}{
		{"rate_fixed", fmt.Sprintf("publish at %s msg/s", thousands(pl.FixedRate)), pl.FixedRate},
		{"rate_half", fmt.Sprintf("publish at half max (%s msg/s)", thousands(half)), half},
	} {
		if ctx.Err() != nil {
			return
		}
		s.progress("%s: %s, %s + %s warm-up", key, r.label, pl.Measure, pl.Warmup)
		ps, err := p.Produce(ctx, name(r.step), append([]string{"--topic", r.step, "--rate", strconv.FormatFloat(r.rate, 'f', 0, 64)}, timed...)...)
		if err != nil {
			s.rep.Error(key+": "+r.label, err)
			continue
		}
		raw(r.step, ps)
		s.addProduce(sec, key+"."+r.step, r.label, ps)
	}

	// End-to-end latency of a tailing consumer at the fixed rate.
	if ctx.Err() != nil {
		return
	}
	s.progress("%s: end-to-end latency, tailing consumer, %s msg/s", key, thousands(pl.FixedRate))
	if e, err := p.E2E(ctx, name("e2e"), append([]string{"--topic", "e2e", "--rate", strconv.FormatFloat(pl.FixedRate, 'f', 0, 64)}, timed...)...); err != nil {
		s.rep.Error(key+": e2e", err)
	} else {
		raw("e2e", e)
		lbl := fmt.Sprintf("e2e at %s msg/s", thousands(pl.FixedRate))
		s.rep.Add(sec, key+".e2e.publish_p99_ms", lbl+": publish p99", e.Produce.PublishLatency.P99Ms, "ms")
		s.rep.Add(sec, key+".e2e.p50_ms", lbl+": end-to-end p50", e.Consume.E2ELatency.P50Ms, "ms")
		s.rep.Add(sec, key+".e2e.p99_ms", lbl+": end-to-end p99", e.Consume.E2ELatency.P99Ms, "ms")
		s.rep.Add(sec, key+".e2e.p999_ms", lbl+": end-to-end p99.9", e.Consume.E2ELatency.P999Ms, "ms")
		f := s.rep.Add(sec, key+".e2e.minus_publish_p99_ms", lbl+": e2e p99 − publish p99", e.E2EMinusPublishP99Ms, "ms")
		if e.Consume.StopReason != "drained" {
			f.Note = "consumer stopped: " + e.Consume.StopReason
		}
	}

	// Many topics at a low rate each. Batching off: at 10 msg/s a topic has nothing to
	// batch, and pulsar-client-go runs a 1 ms flush ticker per batching producer (a
	// million timer wake-ups a second for 1,000 producers) in the load generator.
	if ctx.Err() != nil {
		return
	}
	lbl := fmt.Sprintf("%s topics at %s msg/s each", thousands(float64(pl.ManyTopics)), thousands(pl.ManyRate/float64(pl.ManyTopics)))
	s.progress("%s: %s, batching off", key, lbl)
	if ps, err := p.Produce(ctx, name("many"), append([]string{"--topic", "many", "--topics", strconv.Itoa(pl.ManyTopics),
		"--rate", strconv.FormatFloat(pl.ManyRate, 'f', 0, 64), "--batching=false"}, timed...)...); err != nil {
		s.rep.Error(key+": many topics", err)
	} else {
		raw("many", ps)
		s.addProduce(sec, key+".many", lbl, ps)
	}

	if broker, _, err := d.RSS(); err == nil {
		s.rep.Add(sec, key+".rss_end_mb", "RSS of the "+map[bool]string{true: "process", false: "broker"}[key == "standalone"]+" at the end", mb(broker), "MB")
	}
}

// addProduce adds a produce run's rate and latency percentiles.
func (s *suite) addProduce(sec, key, label string, ps strata.ProduceSummary) {
	f := s.rep.Add(sec, key+".msg_per_sec", label+": acknowledged", ps.Acked.MsgPerSec, "msg/s")
	var notes []string
	if ps.Errors > 0 {
		notes = append(notes, fmt.Sprintf("%d errors: %s", ps.Errors, ps.FirstError))
	}
	if ps.RateDropped > 0 {
		notes = append(notes, fmt.Sprintf("rate not offered: %d sends dropped", ps.RateDropped))
	}
	if ps.Unacked > 0 {
		notes = append(notes, fmt.Sprintf("%d unacknowledged at the end", ps.Unacked))
	}
	for i, n := range notes {
		if i > 0 {
			f.Note += "; "
		}
		f.Note += n
	}
	s.rep.Add(sec, key+".p50_ms", label+": publish p50", ps.PublishLatency.P50Ms, "ms")
	s.rep.Add(sec, key+".p99_ms", label+": publish p99", ps.PublishLatency.P99Ms, "ms")
	s.rep.Add(sec, key+".p999_ms", label+": publish p99.9", ps.PublishLatency.P999Ms, "ms")
}
