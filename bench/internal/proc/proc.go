// Package proc runs the benchmark's servers and load tools as OS processes: started in a
// process group of their own that dies with the driver, their output appended to a log
// file, ready when a given line appears, and measured from /proc.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config describes one process.
type Config struct {
	Name string
	Bin  string
	Args []string
	Env  []string // added to the driver's environment
	// Ready is a substring of an output line (stdout or stderr) that says the process
	// serves; empty means ready once started.
	Ready string
	// ReadyTimeout bounds the wait for Ready; default 60s.
	ReadyTimeout time.Duration
	// Log receives the process's stdout and stderr; required.
	Log io.Writer
}

// Process is one started process.
type Process struct {
	Name string
	cmd  *exec.Cmd
	// StartedAt is just before exec; ReadyAfter the time from then to the Ready line.
	StartedAt  time.Time
	ReadyAfter time.Duration
	// ReadyLine is the output line that contained Config.Ready.
	ReadyLine string

	done chan struct{} // closed when the process has exited and its output is read
	mu   sync.Mutex
	err  error // the exit status, once done
}

// Start runs cfg and waits for its ready line. On error the process is killed.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	cmd := exec.Command(cfg.Bin, cfg.Args...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// A group of its own, so signals reach only it, and killed if the driver dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{Name: cfg.Name, cmd: cmd, done: make(chan struct{})}
	p.StartedAt = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("proc: start %s: %w", cfg.Name, err)
	}
	type readyAt struct {
		at   time.Time
		line string
	}
	ready := make(chan readyAt, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		signalled := cfg.Ready == ""
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(cfg.Log, line)
			if !signalled && strings.Contains(line, cfg.Ready) {
				signalled = true
				ready <- readyAt{time.Now(), line}
			}
		}
		_, _ = io.Copy(io.Discard, pr) // a line over 1 MiB: keep draining
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-scanned
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	if cfg.Ready == "" {
		return p, nil
	}
	t := time.NewTimer(cfg.ReadyTimeout)
	defer t.Stop()
	select {
	case r := <-ready:
		p.ReadyAfter, p.ReadyLine = r.at.Sub(p.StartedAt), r.line
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("proc: %s exited before it was ready: %v", cfg.Name, p.exitErr())
	case <-t.C:
		p.Kill()
		return nil, fmt.Errorf("proc: %s not ready after %s", cfg.Name, cfg.ReadyTimeout)
	case <-ctx.Done():
		p.Kill()
		return nil, ctx.Err()
	}
}

func (p *Process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// Wait waits for the exit, or ctx; it returns the exit error (nil for status 0).
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.exitErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop sends SIGTERM, waits up to grace for the exit, then kills.
func (p *Process) Stop(grace time.Duration) {
	p.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if p.Wait(ctx) != nil && ctx.Err() != nil {
		p.Kill()
	}
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Run runs cfg to completion (no ready line), bounded by ctx, and returns its exit error.
func Run(ctx context.Context, cfg Config) error {
	cfg.Ready = ""
	p, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
		if err := p.exitErr(); err != nil {
			return fmt.Errorf("proc: %s: %w", cfg.Name, err)
		}
		return nil
	case <-ctx.Done():
		p.Signal(syscall.SIGINT)
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			p.Kill()
		}
		return fmt.Errorf("proc: %s: %w", cfg.Name, ctx.Err())
	}
}

// RSS is the resident set of process pid in bytes: VmRSS in /proc/PID/status.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

func parseVmRSS(status string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("proc: VmRSS line %q", strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc: VmRSS line %q: %w", strings.TrimSpace(line), err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("proc: no VmRSS in status (a zombie?)")
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
