// Package report holds the benchmark's results: figures, each with its ratio to the peer
// (NATS JetStream) and to the machine limit it runs into, and the targets judged from
// them; it prints them as a text table and as JSON.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Ref is a reference figure another is compared with.
type Ref struct {
	// Name says what the reference is, briefly ("NATS durable best", "fsync p99").
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Ratio is the figure divided by Value.
	Ratio float64 `json:"ratio"`
}

// Figure is one measured number.
type Figure struct {
	Section string  `json:"section"`
	Key     string  `json:"key"` // stable, for machines: "standalone.publish_max.msg_per_sec"
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	// Peer is NATS JetStream with durability equal to Strata's (sync_interval: always);
	// PeerNotDurable the same with its default sync; Limit the machine's.
	Peer           *Ref   `json:"peer,omitempty"`
	PeerNotDurable *Ref   `json:"peer_not_durable,omitempty"`
	Limit          *Ref   `json:"limit,omitempty"`
	Note           string `json:"note,omitempty"`
}

// Status of a target.
const (
	Pass = "PASS"
	Miss = "MISS"
	NA   = "n/a"
)

// Target is one goal judged from the figures.
type Target struct {
	Name   string `json:"name"`
	Figure string `json:"figure"`
	Goal   string `json:"target"`
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

// Machine describes where and under what load the figures were taken.
type Machine struct {
	CPUs       int       `json:"cpus"`
	CPUModel   string    `json:"cpu_model"`
	MemoryGiB  float64   `json:"memory_gib"`
	Kernel     string    `json:"kernel"`
	GoVersion  string    `json:"go_version"`
	DataFS     string    `json:"data_filesystem"`
	LoadStart  string    `json:"loadavg_start"` // /proc/loadavg at the start
	LoadEnd    string    `json:"loadavg_end"`
	StrataRev  string    `json:"strata_revision,omitempty"`
	Started    time.Time `json:"started"`
	DurationS  float64   `json:"duration_seconds"`
	Quick      bool      `json:"quick"`
	NATSServer string    `json:"nats_server"`
	NATSCLI    string    `json:"nats_cli"`
}

// Step is one measurement's start, with the machine's load then: the figures of a step
// that began under a high load average shared the two cores with other work.
type Step struct {
	AtSeconds float64 `json:"at_seconds"`
	What      string  `json:"what"`
	LoadAvg   string  `json:"loadavg"`
}

// Report is everything one run produced.
type Report struct {
	Machine  Machine        `json:"machine"`
	Settings map[string]any `json:"settings"`
	Figures  []*Figure      `json:"figures"`
	Targets  []Target       `json:"targets"`
	Steps    []Step         `json:"steps"`
	Errors   []string       `json:"errors,omitempty"`
	Raw      map[string]any `json:"raw,omitempty"` // every tool's parsed summary
	index    map[string]*Figure
}

// New returns an empty report.
func New() *Report {
	return &Report{Settings: map[string]any{}, Raw: map[string]any{}, index: map[string]*Figure{}}
}

// Add appends a figure and returns it so refs can be attached.
func (r *Report) Add(section, key, name string, value float64, unit string) *Figure {
	f := &Figure{Section: section, Key: key, Name: name, Value: value, Unit: unit}
	r.Figures = append(r.Figures, f)
	r.index[key] = f
	return f
}

// Get returns the figure with key, if there is one.
func (r *Report) Get(key string) (*Figure, bool) {
	f, ok := r.index[key]
	return f, ok
}

// Error records a step that failed; the run goes on without its figures.
func (r *Report) Error(step string, err error) {
	r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", step, err))
}

// NewRef returns a reference to ref for a figure of value v (nil if ref is missing or 0).
func NewRef(name string, v float64, ref *Figure) *Ref {
	if ref == nil || ref.Value == 0 {
		return nil
	}
	return &Ref{Name: name, Value: ref.Value, Unit: ref.Unit, Ratio: v / ref.Value}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the figures, section by section, then the targets.
func (r *Report) WriteText(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "Strata benchmark (%s run), %s, %.0f s\n", map[bool]string{true: "quick", false: "full"}[m.Quick],
		m.Started.UTC().Format("2006-01-02 15:04 UTC"), m.DurationS)
	fmt.Fprintf(w, "machine: %d × %s, %.0f GiB, %s, %s\n", m.CPUs, m.CPUModel, m.MemoryGiB, m.Kernel, m.GoVersion)
	fmt.Fprintf(w, "data disk: %s; load average at start %s, at end %s%s\n", m.DataFS, m.LoadStart, m.LoadEnd, r.loadRange())
	fmt.Fprintf(w, "peer: nats-server %s, nats bench (natscli %s)\n", m.NATSServer, m.NATSCLI)
	fmt.Fprintln(w, "ratios: figure ÷ reference; for latencies > 1 is worse, for rates < 1 is worse")
	// One table per section, so that each section's columns fit its own names.
	for i := 0; i < len(r.Figures); {
		section := r.Figures[i].Section
		fmt.Fprintf(w, "\n== %s ==\n", section)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "figure\tvalue\t× NATS durable\t× NATS not durable\t× limit\tnote\n")
		for ; i < len(r.Figures) && r.Figures[i].Section == section; i++ {
			f := r.Figures[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, FormatValue(f.Value, f.Unit), refCell(f.Peer), refCell(f.PeerNotDurable), refCell(f.Limit), f.Note)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\n== targets ==")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "target\tfigure\tgoal\tstatus\n")
	for _, t := range r.Targets {
		st := t.Status
		if t.Note != "" {
			st += " (" + t.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Figure, t.Goal, st)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "\n== errors (steps without figures) ==")
		for _, e := range r.Errors {
			fmt.Fprintln(w, "  "+e)
		}
	}
	return nil
}

// loadRange is ", 1-min load A–B over the steps" when steps were recorded.
func (r *Report) loadRange() string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, st := range r.Steps {
		f := strings.Fields(st.LoadAvg)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if hi < lo {
		return ""
	}
	return fmt.Sprintf("; 1-min load %.2f–%.2f at the steps' starts", lo, hi)
}

func refCell(r *Ref) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", FormatRatio(r.Ratio), r.Name)
}

// FormatRatio prints a ratio with two or three significant digits: "0.41×", "12.3×".
func FormatRatio(x float64) string {
	switch {
	case math.IsInf(x, 0) || math.IsNaN(x):
		return "-"
	case x >= 100:
		return fmt.Sprintf("%.0f×", x)
	case x >= 10:
		return fmt.Sprintf("%.1f×", x)
	default:
		return fmt.Sprintf("%.2f×", x)
	}
}

// FormatValue prints v in unit: counts and rates with thousands separators, times with
// three significant digits.
func FormatValue(v float64, unit string) string {
	switch unit {
	case "ms", "s":
		return sig3(v) + " " + unit
	case "MB/s", "MB", "x":
		return sig3(v) + " " + unit
	default:
		return Thousands(v) + " " + unit
	}
}

func sig3(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return Thousands(v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// Thousands rounds v to an integer and groups its digits: 123456.7 → "123,457".
func Thousands(v float64) string {
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	if v < 0 && s != "0" {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
