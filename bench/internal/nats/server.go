package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-io/strata/bench/internal/proc"
)

// ServerConfig configures one nats-server.
type ServerConfig struct {
	Bin string
	// Dir receives the config file and the JetStream store (store/).
	Dir string
	// SyncAlways sets `sync_interval: always`: fsync before each acknowledgement.
	SyncAlways bool
	Log        io.Writer
}

// Server is a running nats-server.
type Server struct {
	*proc.Process
	URL        string // nats://127.0.0.1:port
	ConfigFile string
	Config     string // the config file's text
	// From /varz once started: the durability actually in force.
	Version      string        `json:"version"`
	SyncAlways   bool          `json:"sync_always"`
	SyncInterval time.Duration `json:"sync_interval"`
}

// StartServer writes the config and starts the server on free loopback ports, then
// reads /varz to confirm the sync setting.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	mon, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	store := filepath.Join(cfg.Dir, "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return nil, err
	}
	conf := configText(addr, mon, store, cfg.SyncAlways)
	path := filepath.Join(cfg.Dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	p, err := proc.Start(ctx, proc.Config{
		Name: "nats-server", Bin: cfg.Bin, Args: []string{"-c", path},
		Ready: "Server is ready", Log: cfg.Log,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{Process: p, URL: "nats://" + addr, ConfigFile: path, Config: conf}
	if err := s.readVarz(ctx, "http://"+mon+"/varz"); err != nil {
		p.Kill()
		return nil, err
	}
	if s.SyncAlways != cfg.SyncAlways {
		p.Kill()
		return nil, fmt.Errorf("nats: /varz says sync_always=%v, configured %v", s.SyncAlways, cfg.SyncAlways)
	}
	return s, nil
}

// configText is the server's config file. A config file, not flags: sync_interval has
// no command-line flag.
func configText(addr, monitor, store string, syncAlways bool) string {
	sync := ""
	if syncAlways {
		sync = "\n  sync_interval: always"
	}
	return fmt.Sprintf("listen: %q\nhttp: %q\njetstream {\n  store_dir: %q%s\n}\n", addr, monitor, store, sync)
}

func (s *Server) readVarz(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("nats: /varz: %w", err)
	}
	defer resp.Body.Close()
	var v struct {
		Version   string `json:"version"`
		JetStream struct {
			Config struct {
				SyncInterval int64 `json:"sync_interval"`
				SyncAlways   bool  `json:"sync_always"`
			} `json:"config"`
		} `json:"jetstream"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return fmt.Errorf("nats: /varz: %w", err)
	}
	s.Version = v.Version
	s.SyncAlways = v.JetStream.Config.SyncAlways
	s.SyncInterval = time.Duration(v.JetStream.Config.SyncInterval)
	return nil
}
