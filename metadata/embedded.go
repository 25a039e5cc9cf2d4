package metadata

import (
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// EmbeddedConfig configures an in-process etcd.
type EmbeddedConfig struct {
	Dir string // data directory (required)
	// ClientURL to listen on, e.g. "http://127.0.0.1:2379"; default a random loopback port.
	ClientURL string
	// PeerURL likewise; default a random loopback port.
	PeerURL string
	// ReadyTimeout bounds start-up; default 10s.
	ReadyTimeout time.Duration
}

// Embedded is a real single-node etcd server running in this process, tuned to elect
// itself within ~100 ms.
type Embedded struct {
	etcd     *embed.Etcd
	endpoint string
}

// StartEmbedded starts etcd and waits until it serves requests.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("metadata: embedded etcd needs a data dir")
	}
	if cfg.ClientURL == "" {
		cfg.ClientURL = "http://127.0.0.1:0"
	}
	if cfg.PeerURL == "" {
		cfg.PeerURL = "http://127.0.0.1:0"
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	cu, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("metadata: client url: %w", err)
	}
	pu, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("metadata: peer url: %w", err)
	}
	ec := embed.NewConfig()
	ec.Name = "strata"
	ec.Dir = cfg.Dir
	ec.ListenClientUrls = []url.URL{*cu}
	ec.AdvertiseClientUrls = []url.URL{*cu}
	ec.ListenPeerUrls = []url.URL{*pu}
	ec.AdvertisePeerUrls = []url.URL{*pu}
	ec.InitialCluster = ec.Name + "=" + pu.String()
	// Single node: elect quickly. 10 ms ticks, 100 ms election timeout.
	ec.TickMs = 10
	ec.ElectionMs = 100
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	// Keep history bounded but long enough for watchers to resume.
	ec.AutoCompactionMode = "revision"
	ec.AutoCompactionRetention = "100000"
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("metadata: start embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(cfg.ReadyTimeout):
		e.Close()
		return nil, fmt.Errorf("metadata: embedded etcd not ready after %s", cfg.ReadyTimeout)
	}
	return &Embedded{etcd: e, endpoint: "http://" + e.Clients[0].Addr().String()}, nil
}

// Endpoint is the client URL to dial, with the real port.
func (e *Embedded) Endpoint() string { return e.endpoint }

// Close stops the server.
func (e *Embedded) Close() {
	e.etcd.Close()
	<-e.etcd.Server.StopNotify()
}
