// Command benchsuite is `make bench`: it measures, in one run on one machine, the
// machine's limits (synced disk appends, group commits, loopback TCP), the peer (NATS
// JetStream with its own bench tool, durable and not), and Strata standalone and as a
// local three-bookie cluster under `strata perf`, then prints a table of every figure
// with its ratio to the peer and to the machine's limit, judges the targets of issue 6,
// and writes the same as JSON.
//
//	go run ./bench/cmd/benchsuite -strata bin/strata          # about 10 minutes
//	BENCH_QUICK=1 go run ./bench/cmd/benchsuite -strata ...    # about 2 minutes, a smoke run
//
// Outputs: the table on stdout; bench/results/latest.{txt,json}; and a dated directory
// bench/results/YYYYMMDD-HHMMSS with the same plus every process's log, every `strata
// perf --json` summary and every `nats bench` output. Data goes under -workdir, removed
// at the end. Progress goes to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/strata-io/strata/bench/internal/report"
)

// plan is how long and how big each measurement is.
type plan struct {
	Quick bool
	// Warmup and Measure are each strata perf produce/e2e run's phases.
	Warmup  time.Duration
	Measure time.Duration
	// Disk and Loopback are each limit measurement's length.
	Disk     time.Duration
	Loopback time.Duration
	// NATS is the target length of each nats bench publish run.
	NATS time.Duration
	// Backlog is the catch-up read's size in 1 KiB messages.
	Backlog int
	// FixedRate is the first fixed publish rate (the second is half the maximum).
	FixedRate float64
	// ManyTopics at ManyRate messages a second in total.
	ManyTopics int
	ManyRate   float64
	// IdleTopics with one subscription each, for the memory figure (standalone only).
	IdleTopics int
	Size       int
}

func fullPlan() plan {
	return plan{Warmup: 3 * time.Second, Measure: 12 * time.Second, Disk: 5 * time.Second, Loopback: 2 * time.Second,
		NATS: 8 * time.Second, Backlog: 1_000_000, FixedRate: 10_000, ManyTopics: 1000, ManyRate: 10_000,
		IdleTopics: 10_000, Size: 1024}
}

func quickPlan() plan {
	return plan{Quick: true, Warmup: time.Second, Measure: 3 * time.Second, Disk: 2 * time.Second, Loopback: time.Second,
		NATS: 2 * time.Second, Backlog: 100_000, FixedRate: 10_000, ManyTopics: 200, ManyRate: 2_000,
		IdleTopics: 1000, Size: 1024}
}

// settings is the plan as it appears in the JSON report, durations as text ("12s").
func (p plan) settings() map[string]any {
	return map[string]any{
		"quick": p.Quick, "warmup": p.Warmup.String(), "measure": p.Measure.String(),
		"disk": p.Disk.String(), "loopback": p.Loopback.String(), "nats_run": p.NATS.String(),
		"backlog_messages": p.Backlog, "fixed_rate": p.FixedRate, "many_topics": p.ManyTopics,
		"many_rate": p.ManyRate, "idle_topics": p.IdleTopics, "message_size": p.Size,
	}
}

// suite is one run: its settings, where things go, and the report being filled.
type suite struct {
	plan      plan
	strataBin string
	goBin     string
	workDir   string // data of the servers under test; removed at the end
	outDir    string // this run's results: logs, summaries, report
	toolsDir  string
	cliModDir string
	rep       *report.Report
	start     time.Time

	logMu sync.Mutex
	logs  map[string]*os.File
}

func main() {
	var (
		s        suite
		only     string
		results  string
		keep     bool
		quickEnv = os.Getenv("BENCH_QUICK") != "" && os.Getenv("BENCH_QUICK") != "0"
		quick    bool
	)
	flag.StringVar(&s.strataBin, "strata", "bin/strata", "the strata binary to benchmark")
	flag.StringVar(&s.goBin, "go", "go", "the go command, to build the NATS tools")
	flag.StringVar(&s.workDir, "workdir", "bench/.work", "directory for the servers' data (on the disk to measure); removed at the end")
	flag.StringVar(&results, "results", "bench/results", "directory for latest.{txt,json} and a dated directory per run")
	flag.StringVar(&s.toolsDir, "tools", "bench/.tools/bin", "where nats-server and nats are built")
	flag.StringVar(&s.cliModDir, "natscli-module", "bench/tools/natscli", "the module that pins natscli")
	flag.StringVar(&only, "only", "", "comma-separated sections to run: limits,nats,standalone,cluster (default: all)")
	flag.BoolVar(&quick, "quick", quickEnv, "a short smoke run (also BENCH_QUICK=1)")
	flag.BoolVar(&keep, "keep", false, "keep -workdir (the servers' data) after the run")
	flag.Parse()

	s.plan = fullPlan()
	if quick {
		s.plan = quickPlan()
	}
	sections := []string{"limits", "nats", "standalone", "cluster"}
	if only != "" {
		sections = strings.Split(only, ",")
	}
	if err := s.run(sections, results, keep); err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		os.Exit(1)
	}
	if len(s.rep.Errors) > 0 {
		os.Exit(1)
	}
}

func (s *suite) run(sections []string, results string, keep bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s.start = time.Now()
	s.rep = report.New()
	s.logs = map[string]*os.File{}
	defer s.closeLogs()

	var err error
	if s.strataBin, err = filepath.Abs(s.strataBin); err != nil {
		return err
	}
	if _, err := os.Stat(s.strataBin); err != nil {
		return fmt.Errorf("strata binary: %w (run make build)", err)
	}
	if s.workDir, err = filepath.Abs(s.workDir); err != nil {
		return err
	}
	if err := os.RemoveAll(s.workDir); err != nil {
		return err
	}
	if err := os.MkdirAll(s.workDir, 0o755); err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(s.workDir)
	}
	s.outDir = filepath.Join(results, s.start.Format("20060102-150405"))
	for _, d := range []string{"logs", "perf", "nats"} {
		if err := os.MkdirAll(filepath.Join(s.outDir, d), 0o755); err != nil {
			return err
		}
	}

	s.rep.Machine = describeMachine(ctx, s.goBin)
	s.rep.Machine.Started = s.start
	s.rep.Machine.Quick = s.plan.Quick
	s.rep.Settings["plan"] = s.plan.settings()
	s.rep.Settings["sections"] = sections
	s.progress("start: %s; load average %s; results in %s", strings.Join(sections, ", "), s.rep.Machine.LoadStart, s.outDir)

	for _, sec := range sections {
		if ctx.Err() != nil {
			break
		}
		switch sec {
		case "limits":
			s.limits(ctx)
		case "nats":
			s.peer(ctx)
		case "standalone":
			s.strataStandalone(ctx)
		case "cluster":
			s.strataCluster(ctx)
		default:
			return fmt.Errorf("unknown section %q", sec)
		}
	}
	if ctx.Err() != nil {
		s.rep.Error("run", ctx.Err())
	}
	s.attachRefs()
	s.rep.Targets = targets(s.rep, s.plan)
	s.rep.Machine.LoadEnd = loadAvg()
	s.rep.Machine.DurationS = time.Since(s.start).Seconds()
	return s.write(results)
}

// write prints the table and saves the text and JSON, dated and as latest.
func (s *suite) write(results string) error {
	var text strings.Builder
	if err := s.rep.WriteText(&text); err != nil {
		return err
	}
	fmt.Print(text.String())
	var js strings.Builder
	if err := s.rep.WriteJSON(&js); err != nil {
		return err
	}
	for _, f := range []struct{ path, body string }{
		{filepath.Join(s.outDir, "report.txt"), text.String()},
		{filepath.Join(s.outDir, "report.json"), js.String()},
		{filepath.Join(results, "latest.txt"), text.String()},
		{filepath.Join(results, "latest.json"), js.String()},
	} {
		if err := os.WriteFile(f.path, []byte(f.body), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "\nwrote %s and %s/\n", filepath.Join(results, "latest.json"), s.outDir)
	return nil
}

// progress prints a timestamped line to stderr and records the step with the load
// average at its start.
func (s *suite) progress(format string, args ...any) {
	el := time.Since(s.start)
	what, load := fmt.Sprintf(format, args...), loadAvg()
	s.rep.Steps = append(s.rep.Steps, report.Step{AtSeconds: el.Seconds(), What: what, LoadAvg: load})
	el = el.Round(time.Second)
	fmt.Fprintf(os.Stderr, "[%02d:%02d load %s] %s\n", int(el.Minutes()), int(el.Seconds())%60, strings.Fields(load)[0], what)
}

// log returns the log file of name under the run's logs/ directory (shared by callers).
func (s *suite) log(name string) io.Writer {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if f, ok := s.logs[name]; ok {
		return f
	}
	f, err := os.OpenFile(filepath.Join(s.outDir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return io.Discard
	}
	s.logs[name] = f
	return f
}

func (s *suite) closeLogs() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	for _, f := range s.logs {
		f.Close()
	}
}

// clean removes a finished step's data and flushes the page cache's dirty pages, so
// that write-back of one step does not land in the next one's measurement.
func (s *suite) clean(dir string) {
	_ = os.RemoveAll(dir)
	syscall.Sync()
}
