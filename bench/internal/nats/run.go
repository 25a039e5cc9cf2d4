package nats

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strconv"
	"time"
)

// Stream and subject the benchmark uses; `nats bench` creates the stream.
const (
	streamName = "benchstream"
	subject    = "benchsubj"
)

// PubMode is one of `nats bench js pub`'s publish modes with its settings.
type PubMode struct {
	Name string // label in reports, e.g. "batch 1000"
	// Args follow `nats bench js pub`: the mode and its flags.
	Args []string
	// Batch is the messages per batch (async: in flight; batch: per atomic commit), so
	// that message counts can be whole batches.
	Batch int
}

// PubModes are the publish modes run against each server, one client each:
//   - sync: one message at a time, each acknowledged before the next;
//   - async: the tool's default window of 500 unacknowledged messages;
//   - atomic batches of 100 (as the reference figures) and of 1,000, the most the server
//     accepts in one batch: its best case, one fsync per 1,000 messages.
var PubModes = []PubMode{
	{Name: "sync", Args: []string{"sync"}, Batch: 1},
	{Name: "async 500", Args: []string{"async", "--batch", "500"}, Batch: 500},
	{Name: "batch 100", Args: []string{"batch", "--batch", "100"}, Batch: 100},
	{Name: "batch 1000", Args: []string{"batch", "--batch", "1000"}, Batch: 1000},
}

// Runner runs `nats bench` against one server.
type Runner struct {
	CLI string
	URL string
	// Size is the message size, in the tool's syntax ("1KiB").
	Size string
	// Log receives each command line and its output.
	Log io.Writer
}

// Run is one bench invocation: its command line, output and parsed result.
type Run struct {
	Args   []string    `json:"args"`
	Result BenchResult `json:"result"`
	Output string      `json:"-"`
}

// bench runs `nats -s URL bench ARGS...` and parses its output.
func (r *Runner) bench(ctx context.Context, args ...string) (Run, error) {
	full := append([]string{"-s", r.URL, "bench"}, args...)
	fmt.Fprintf(r.Log, "$ nats %s\n", joinArgs(full))
	cmd := exec.CommandContext(ctx, r.CLI, full...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, r.Log), io.MultiWriter(&out, r.Log)
	if err := cmd.Run(); err != nil {
		return Run{Args: full}, fmt.Errorf("nats bench %s: %w", joinArgs(args), err)
	}
	res, err := ParseBench(out.String())
	if err != nil {
		return Run{Args: full}, err
	}
	return Run{Args: full, Result: res, Output: out.String()}, nil
}

func (r *Runner) pubArgs(m PubMode, msgs int) []string {
	args := append([]string{"js", "pub"}, m.Args...)
	return append(args, "--create", "--storage", "file", "--replicas", "1",
		"--size", r.Size, "--msgs", strconv.Itoa(msgs), "--maxbytes", "16GB",
		"--purge", "--no-progress", subject)
}

// Publish runs mode m for about d: a short probe sizes the message count of the
// measured run (nats bench stops after a count, not a time). It returns the measured run.
func (r *Runner) Publish(ctx context.Context, m PubMode, d time.Duration) (Run, error) {
	probeMsgs := roundUp(2000, m.Batch*2)
	probe, err := r.bench(ctx, r.pubArgs(m, probeMsgs)...)
	if err != nil {
		return probe, err
	}
	msgs := int(math.Min(probe.Result.MsgsPerSec*d.Seconds(), 20e6))
	msgs = roundUp(max(msgs, probeMsgs), m.Batch)
	return r.bench(ctx, r.pubArgs(m, msgs)...)
}

// Consume reads msgs messages of the stream with a durable consumer and explicit acks,
// the tool's defaults (500 messages buffered in the client).
func (r *Runner) Consume(ctx context.Context, msgs int) (Run, error) {
	return r.bench(ctx, "js", "consume", "--msgs", strconv.Itoa(msgs), "--size", r.Size,
		"--acks", "explicit", "--batch", "500", "--no-progress", "--stream", streamName)
}

func roundUp(n, m int) int {
	if m <= 1 {
		return n
	}
	return (n + m - 1) / m * m
}

func joinArgs(a []string) string {
	var b bytes.Buffer
	for i, s := range a {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return b.String()
}
