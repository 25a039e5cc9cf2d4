package nats

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Pinned versions. The server is `go install`ed at its version. natscli cannot be: the
// module proxy refuses its version list, which `go install pkg@version` asks for (to look
// for a deprecation notice), so it is built in a small module of its own,
// bench/tools/natscli, whose go.mod and go.sum pin it and its dependencies.
const (
	ServerModule  = "github.com/nats-io/nats-server/v2"
	ServerVersion = "v2.15.2"
	CLIPackage    = "github.com/nats-io/natscli/nats"
	CLIVersion    = "v0.3.0"
)

// Tools are the paths of the two programs.
type Tools struct {
	Server string `json:"server"`
	CLI    string `json:"cli"`
}

// Install makes sure binDir holds nats-server and nats at the pinned versions, building
// them with goBin (the go command) when missing or of another version. cliModDir is the
// module that pins natscli (bench/tools/natscli). Build output goes to log.
func Install(ctx context.Context, goBin, binDir, cliModDir string, log io.Writer) (Tools, error) {
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return Tools{}, err
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return Tools{}, err
	}
	t := Tools{Server: filepath.Join(binDir, "nats-server"), CLI: filepath.Join(binDir, "nats")}
	if !hasVersion(ctx, t.Server, ServerVersion) {
		fmt.Fprintf(log, "building nats-server %s into %s\n", ServerVersion, binDir)
		cmd := exec.CommandContext(ctx, goBin, "install", ServerModule+"@"+ServerVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+binDir)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return Tools{}, fmt.Errorf("nats: go install %s@%s: %w", ServerModule, ServerVersion, err)
		}
	}
	if !hasVersion(ctx, t.CLI, CLIVersion) {
		fmt.Fprintf(log, "building nats (natscli %s) into %s\n", CLIVersion, binDir)
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", t.CLI, CLIPackage)
		cmd.Dir = cliModDir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return Tools{}, fmt.Errorf("nats: go build %s in %s: %w", CLIPackage, cliModDir, err)
		}
	}
	for _, c := range []struct{ bin, version string }{{t.Server, ServerVersion}, {t.CLI, CLIVersion}} {
		if !hasVersion(ctx, c.bin, c.version) {
			return Tools{}, fmt.Errorf("nats: %s does not report version %s after the build", c.bin, c.version)
		}
	}
	return t, nil
}

// hasVersion reports whether `bin --version` prints version (nats-server prints
// "nats-server: v2.15.2", nats prints "v0.3.0").
func hasVersion(ctx context.Context, bin, version string) bool {
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return false
	}
	f := strings.Fields(string(out))
	return len(f) > 0 && f[len(f)-1] == version
}
