// Package harness runs Strata's real processes for end-to-end tests: the `strata` binary
// as OS processes (bookies, brokers, standalone) next to a real embedded etcd, with the
// faults the tests need — SIGKILL, SIGSTOP/SIGCONT, restart on the same data dir, and
// network faults (cut, blackhole, latency) through an in-process TCP proxy
// (FaultProxy). StartCluster puts it together: etcd, bookies, and brokers that each
// reach etcd through their own proxy. The subpackage queuecheck checks what a topic
// delivered against what its producers were told.
//
// The binary is $STRATA_BIN when set (make test builds it), otherwise it is built once
// per test binary into a temp dir.
package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// Binary returns the path of the strata binary, building it if needed.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("STRATA_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "strata-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "strata")
		cmd := exec.Command("go", "build", "-o", builtBin, "github.com/strata-io/strata/cmd/strata")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building strata: %v", buildErr)
	}
	return builtBin
}

var (
	portsMu sync.Mutex
	ports   = map[string]bool{} // every address FreePort handed out in this process
)

// FreePort returns a loopback address with a port that was free a moment ago and that
// FreePort has not returned before in this test binary: the kernel may hand a port just
// released to the next bind, and a test taking several ports before its processes bind
// them (etcd, Pulsar and HTTP of one standalone) must not get the same one twice.
func FreePort(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if !ports[addr] {
			ports[addr] = true
			return addr
		}
	}
}

// Process is one running (or stopped) strata subcommand.
type Process struct {
	t     testing.TB
	Name  string
	bin   string
	args  []string
	ready string // stderr substring that says the process is serving
	logW  io.Writer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run exits
	log  *os.File
}

// ProcessConfig describes how to start one process.
type ProcessConfig struct {
	Name string   // for logs
	Args []string // strata arguments, e.g. {"bookie", "--etcd", ...}
	// Ready is a substring of a stderr line printed once the process serves.
	Ready string
	// LogDir receives <Name>.log with the process's stderr/stdout (all runs appended).
	LogDir string
}

// Start runs a process and waits for its ready line. It is killed at test cleanup.
func Start(t testing.TB, cfg ProcessConfig) *Process {
	t.Helper()
	if cfg.LogDir == "" {
		cfg.LogDir = t.TempDir()
	}
	f, err := os.OpenFile(filepath.Join(cfg.LogDir, cfg.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{t: t, Name: cfg.Name, bin: Binary(t), args: cfg.Args, ready: cfg.Ready, log: f}
	t.Cleanup(func() {
		p.Kill()
		f.Close()
		if t.Failed() {
			if b, err := os.ReadFile(f.Name()); err == nil {
				t.Logf("---- log of %s ----\n%s", p.Name, tail(string(b), 4000))
			}
		}
	})
	if err := p.run(); err != nil {
		t.Fatalf("start %s: %v", cfg.Name, err)
	}
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// run starts the process and blocks until the ready line, exit, or 30 s.
func (p *Process) run() error {
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout = p.log
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	// Its own process group, so a SIGKILL of the test run does not leave it behind and
	// signals reach only it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.log, line)
			if !signalled && strings.Contains(line, p.ready) {
				signalled = true
				close(ready)
			}
		}
		cmd.Wait()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("%s exited before it was ready (%s); see its log %s", p.Name, cmd.ProcessState, p.log.Name())
	case <-time.After(30 * time.Second):
		p.Kill()
		return fmt.Errorf("%s not ready after 30s; see its log %s", p.Name, p.log.Name())
	}
}

// Signal sends sig to the process if it is running.
func (p *Process) Signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	p.Signal(syscall.SIGCONT) // a stopped process must be able to die promptly
	p.Signal(syscall.SIGKILL)
	p.Wait(context.Background())
}

// Stop sends SIGTERM (graceful shutdown) and waits up to 30 s, then kills.
func (p *Process) Stop() {
	p.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !p.Wait(ctx) {
		p.Kill()
	}
}

// Pause stops the process with SIGSTOP; Resume continues it.
func (p *Process) Pause()  { p.Signal(syscall.SIGSTOP) }
func (p *Process) Resume() { p.Signal(syscall.SIGCONT) }

// Wait blocks until the current run exits or ctx ends; it reports whether it exited.
func (p *Process) Wait(ctx context.Context) bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// ExitCode is the exit code of the last finished run (-1 when killed by a signal).
func (p *Process) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Restart starts the process again with the same arguments (after Kill or Stop).
func (p *Process) Restart() {
	p.t.Helper()
	p.Kill()
	if err := p.run(); err != nil {
		p.t.Fatalf("restart %s: %v", p.Name, err)
	}
}

// RunToExit runs strata with args to completion and returns its combined output and
// exit code (for commands expected to fail, such as a refused start).
func RunToExit(t testing.TB, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("strata %v did not exit within %s:\n%s", args, timeout, out)
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("strata %v: %v", args, err)
	}
	return string(out), 0
}
