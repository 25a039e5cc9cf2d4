package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-io/strata/bench/internal/nats"
	"github.com/strata-io/strata/bench/internal/report"
)

// Sections of the peer's figures; refs in attachRefs point at them by key.
const (
	secNATSDurable    = "NATS JetStream, sync_interval: always (durable)"
	secNATSNotDurable = "NATS JetStream, default sync (not durable)"
)

// peer builds the NATS tools if needed, then runs each publish mode against a server
// with sync_interval: always and one with the default sync, and a durable consumer's
// catch-up read on the first.
func (s *suite) peer(ctx context.Context) {
	s.progress("nats: tools (nats-server %s, natscli %s) in %s", nats.ServerVersion, nats.CLIVersion, s.toolsDir)
	tools, err := nats.Install(ctx, s.goBin, s.toolsDir, s.cliModDir, s.log("nats-tools-build"))
	if err != nil {
		s.rep.Error("nats: tools", err)
		return
	}
	s.rep.Machine.NATSServer, s.rep.Machine.NATSCLI = nats.ServerVersion, nats.CLIVersion
	for _, durable := range []bool{true, false} {
		if ctx.Err() != nil {
			return
		}
		s.peerServer(ctx, tools, durable)
	}
}

func (s *suite) peerServer(ctx context.Context, tools nats.Tools, durable bool) {
	name, sec, keyBase := "nats-durable", secNATSDurable, "nats.durable"
	if !durable {
		name, sec, keyBase = "nats-default", secNATSNotDurable, "nats.default"
	}
	dir := filepath.Join(s.workDir, name)
	defer s.clean(dir)
	srv, err := nats.StartServer(ctx, nats.ServerConfig{Bin: tools.Server, Dir: dir, SyncAlways: durable, Log: s.log(name + "-server")})
	if err != nil {
		s.rep.Error(name, err)
		return
	}
	defer srv.Stop(20 * time.Second)
	s.rep.Settings[name+"_config"] = srv.Config
	s.rep.Settings[name+"_varz"] = map[string]any{"version": srv.Version, "sync_always": srv.SyncAlways, "sync_interval": srv.SyncInterval.String()}
	s.progress("%s: nats-server %s, sync_always=%v, sync_interval=%s", name, srv.Version, srv.SyncAlways, srv.SyncInterval)

	r := &nats.Runner{CLI: tools.CLI, URL: srv.URL, Size: "1KiB", Log: s.log(name + "-bench")}
	var best *report.Figure
	var lastMsgs int
	for _, m := range nats.PubModes {
		if ctx.Err() != nil {
			return
		}
		s.progress("%s: nats bench js pub %s, 1 KiB, file storage, R1, ~%s", name, m.Name, s.plan.NATS)
		run, err := r.Publish(ctx, m, s.plan.NATS)
		if err != nil {
			s.rep.Error(fmt.Sprintf("%s: pub %s", name, m.Name), err)
			continue
		}
		slug := strings.ReplaceAll(m.Name, " ", "_")
		s.saveNATS(name+"-pub-"+slug, run)
		s.rep.Raw[keyBase+"."+slug] = run
		f := s.rep.Add(sec, keyBase+"."+slug+".msg_per_sec", "publish, "+m.Name, run.Result.MsgsPerSec, "msg/s")
		if m.Name == "sync" {
			f.Note = fmt.Sprintf("mean round trip %.3f ms", run.Result.AvgUsPerMsg/1000)
			s.rep.Add(sec, keyBase+".sync.mean_ms", "publish, sync: mean round trip", run.Result.AvgUsPerMsg/1000, "ms")
		}
		if best == nil || f.Value > best.Value {
			best = f
		}
		lastMsgs, _ = strconv.Atoi(strings.ReplaceAll(run.Result.Params["msgs"], ",", ""))
	}
	if best != nil {
		b := s.rep.Add(sec, keyBase+".best.msg_per_sec", "publish, best mode", best.Value, "msg/s")
		b.Note = "= " + strings.TrimPrefix(best.Name, "publish, ")
	}
	if !durable || lastMsgs == 0 || ctx.Err() != nil {
		return
	}
	// The last publish run's messages are the stream's backlog: read them back.
	msgs := min(lastMsgs, s.plan.Backlog)
	s.progress("%s: nats bench js consume of %d messages (durable consumer, explicit acks)", name, msgs)
	run, err := r.Consume(ctx, msgs)
	if err != nil {
		s.rep.Error(name+": consume", err)
		return
	}
	s.saveNATS(name+"-consume", run)
	s.rep.Raw[keyBase+".consume"] = run
	f := s.rep.Add(sec, keyBase+".consume.msg_per_sec", "catch-up read, durable consumer", run.Result.MsgsPerSec, "msg/s")
	f.Note = fmt.Sprintf("%d-message backlog", msgs)
}

// saveNATS keeps a bench run's output next to the report.
func (s *suite) saveNATS(name string, run nats.Run) {
	body := "$ nats " + strings.Join(run.Args, " ") + "\n" + run.Output
	_ = os.WriteFile(filepath.Join(s.outDir, "nats", name+".txt"), []byte(body), 0o644)
}
