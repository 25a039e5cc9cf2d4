// Package s3test runs a real S3-compatible server for tests: versitygw, as a separate
// process, in POSIX mode over a temporary directory, on a loopback port, over HTTP or over
// HTTPS with a CA made for the test.
//
// The versitygw binary is found in $STRATA_VERSITYGW, on $PATH or in $(go env GOPATH)/bin,
// and installed there with `go install` (a few minutes of compiling, once per machine)
// when it is in none of them.
package s3test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tiereds3 "github.com/strata-io/strata/tiered/s3"
)

// Module is the versitygw version installed when none is found.
const Module = "github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Credentials of the server's single account.
const (
	AccessKey = "strata-test-access"
	SecretKey = "strata-test-secret-key"
	Region    = "us-east-1"
)

var (
	installMu sync.Mutex
	installed string // the binary, once found or installed
)

// Binary returns the path of a versitygw binary, installing it if needed.
func Binary(t testing.TB) string {
	t.Helper()
	installMu.Lock()
	defer installMu.Unlock()
	if installed != "" {
		return installed
	}
	if p := os.Getenv("STRATA_VERSITYGW"); p != "" {
		installed = p
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		installed = p
		return p
	}
	gobin, err := goBin()
	if err != nil {
		t.Fatalf("s3test: locating go's bin dir: %v", err)
	}
	p := filepath.Join(gobin, "versitygw")
	if _, err := os.Stat(p); err == nil {
		installed = p
		return p
	}
	t.Logf("s3test: installing %s into %s (compiles for a few minutes, once)", Module, gobin)
	cmd := exec.Command("go", "install", Module)
	cmd.Dir = os.TempDir() // outside any module, so our go.mod is not consulted
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("s3test: go install %s: %v\n%s", Module, err, out)
	}
	installed = p
	return p
}

func goBin() (string, error) {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", err
	}
	// One line each, GOBIN first; an unset GOBIN is an empty line.
	lines := strings.Split(string(out), "\n")
	if len(lines) < 2 {
		return "", fmt.Errorf("unexpected go env output %q", out)
	}
	if gobin := strings.TrimSpace(lines[0]); gobin != "" {
		return gobin, nil
	}
	gopath, _, _ := strings.Cut(strings.TrimSpace(lines[1]), string(os.PathListSeparator))
	if gopath == "" {
		return "", fmt.Errorf("neither GOBIN nor GOPATH set (go env: %q)", out)
	}
	return filepath.Join(gopath, "bin"), nil
}

// Server is a running versitygw. Stop and Restart model an S3 outage: the server goes
// away and comes back on the same endpoint, over the same objects.
//
// A Server is driven from the test goroutine (Start, Stop, Restart).
type Server struct {
	Endpoint string // http://127.0.0.1:port or https://127.0.0.1:port
	CAFile   string // PEM of the CA that signed the server's certificate; "" over HTTP
	Root     string // the POSIX root: Root/<bucket>/<key> is an object's file

	bin      string
	port     int
	certArgs []string
	run      *run // the current process; a stopped one until Restart
}

// run is one versitygw process.
type run struct {
	cmd    *exec.Cmd
	output *bytes.Buffer // what versitygw printed up to the banner, for failures
	done   chan struct{} // closed when the output reader has seen EOF
	stop   sync.Once
}

// Start runs versitygw over a fresh directory, over HTTPS if tls is set, and stops it
// when the test ends.
func Start(t testing.TB, tls bool) *Server {
	t.Helper()
	bin := Binary(t)
	root := t.TempDir()
	var certArgs []string
	caFile := ""
	if tls {
		caFile, certArgs = makeCerts(t)
	}
	// A free port is taken from the kernel and handed over; another process may grab it
	// in between, in which case versitygw exits and we try another.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("s3test: %v", err)
		}
		r, endpoint, err := start(bin, root, port, certArgs)
		if err != nil {
			lastErr = err
			continue
		}
		s := &Server{Endpoint: endpoint, CAFile: caFile, Root: root, bin: bin, port: port, certArgs: certArgs, run: r}
		t.Cleanup(s.Stop)
		return s
	}
	t.Fatalf("s3test: versitygw did not start: %v", lastErr)
	return nil
}

// Restart starts the server again after Stop (or kills and restarts a running one), on
// the same port, over the same directory and with the same certificate, so clients
// configured with Endpoint and CAFile reach it again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	// The port was free until a moment ago; another process taking it meanwhile fails
	// the test rather than moving the endpoint under the clients' feet.
	r, endpoint, err := start(s.bin, s.Root, s.port, s.certArgs)
	if err != nil {
		t.Fatalf("s3test: restarting versitygw on port %d: %v", s.port, err)
	}
	if endpoint != s.Endpoint {
		r.kill()
		t.Fatalf("s3test: versitygw came back on %s, not %s", endpoint, s.Endpoint)
	}
	s.run = r
}

func start(bin, root string, port int, certArgs []string) (*run, string, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{"--port", addr, "--access", AccessKey, "--secret", SecretKey, "--region", Region}, certArgs...)
	args = append(args, "posix", root)
	cmd := exec.Command(bin, args...)
	// The server dies with the test process even if the test is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, "", err
	}
	pw.Close()
	s := &run{cmd: cmd, output: new(bytes.Buffer), done: make(chan struct{})}
	// Wait for the banner's URL line, which versitygw prints once it has bound the port,
	// or for the output to end (the process exited).
	ready := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			if s.output.Len() < 64<<10 {
				s.output.WriteString(line + "\n")
			}
			if u := strings.TrimSpace(strings.Trim(line, "│ ")); strings.HasSuffix(u, "://"+addr) {
				ready <- u
				io.Copy(io.Discard, pr) // request logs, until the process exits
				break
			}
		}
		pr.Close()
	}()
	select {
	case u := <-ready:
		// The banner may come before the listener accepts; a client's first request
		// must not meet a refused connection (after Restart, the S3 client's retries
		// may be spent on the outage).
		if err := waitAccepting(addr, s.done); err != nil {
			s.kill()
			return nil, "", err
		}
		return s, u, nil
	case <-s.done:
		err := cmd.Wait()
		return nil, "", fmt.Errorf("versitygw exited (%v):\n%s", err, s.output)
	}
}

// waitAccepting returns once addr accepts a TCP connection, or fails when the process
// exits (done) or 10 s pass. Polling a dial is the only way to see a listener from
// outside the process.
func waitAccepting(addr string, done <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw printed its banner but %s does not accept: %v", addr, err)
		}
		select {
		case <-done:
			return fmt.Errorf("versitygw exited after its banner")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kill kills the process (SIGKILL: an outage, not a shutdown) and waits for it.
func (r *run) kill() {
	r.stop.Do(func() {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		<-r.done
	})
}

// Stop kills the server and waits for it; the objects stay in Root. Stop is idempotent.
func (s *Server) Stop() { s.run.kill() }

// NewBucket creates an empty bucket (a directory under Root) and returns its name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp(s.Root, "bucket-")
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return filepath.Base(dir)
}

// Config returns the tiered/s3 configuration that reaches bucket on this server.
func (s *Server) Config(bucket string) tiereds3.Config {
	return tiereds3.Config{
		Endpoint:        s.Endpoint,
		Region:          Region,
		Bucket:          bucket,
		AccessKeyID:     AccessKey,
		SecretAccessKey: SecretKey,
		CAFile:          s.CAFile,
	}
}

// Store returns a tiered/s3 store on a new bucket of this server, built by tiered/s3.New
// like any other, with the given multipart part size and threshold (0: the defaults).
func (s *Server) Store(t testing.TB, ctx context.Context, partSize, threshold int64) *tiereds3.Store {
	t.Helper()
	cfg := s.Config(s.NewBucket(t))
	cfg.PartSize, cfg.MultipartThreshold = partSize, threshold
	st, err := tiereds3.New(ctx, cfg)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return st
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeCerts writes a CA and a server certificate for 127.0.0.1 signed by it, and returns
// the CA's PEM file and versitygw's --cert/--key arguments (absolute paths).
func makeCerts(t testing.TB) (caFile string, args []string) {
	t.Helper()
	dir := t.TempDir()
	fail := func(err error) {
		if err != nil {
			t.Fatalf("s3test: making test certificates: %v", err)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fail(err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "strata test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	fail(err)
	caCert, err := x509.ParseCertificate(caDER)
	fail(err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fail(err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	fail(err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	fail(err)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		fail(os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	caFile = write("ca.pem", "CERTIFICATE", caDER)
	return caFile, []string{
		"--cert", write("cert.pem", "CERTIFICATE", leafDER),
		"--key", write("key.pem", "EC PRIVATE KEY", keyDER),
	}
}
