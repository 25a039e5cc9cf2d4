// Package broker assembles a Pulsar-protocol broker: the ledger client, the managed
// ledger factory, the topic service, the binary protocol server on :6650 and the HTTP
// server on :8080. `strata broker` and `strata standalone` both run it.
package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/broker/admin"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/metrics"
	"github.com/strata-io/strata/broker/server"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/metadata"
)

// Config configures a broker.
type Config struct {
	// Store is the etcd door (required).
	Store *metadata.Store
	// ListenAddr for the Pulsar protocol; default 127.0.0.1:6650.
	ListenAddr string
	// HTTPAddr for admin REST, lookup and health; default 127.0.0.1:8080; "" disables.
	HTTPAddr string
	// AdvertisedHost is the host clients are told to connect to; default the listen host.
	AdvertisedHost string
	Cluster        string
	BrokerID       string
	ManagedLedger  managedledger.Config
	// Intervals of the namespace-policy checks; zero takes Pulsar's defaults (see
	// service.Config).
	RetentionCheckInterval, MessageExpiryCheckInterval, BacklogQuotaCheckInterval time.Duration
	MaxMessageSize                                                                int
	Logger                                                                        *slog.Logger
	// Metrics, if set, gets the broker's Prometheus collectors (Pulsar's names, see
	// docs/metrics.md); nil means no metrics. When it is also a prometheus.Gatherer
	// (a *prometheus.Registry is), the HTTP server serves it on GET /metrics.
	Metrics prometheus.Registerer
}

func (c *Config) applyDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:6650"
	}
	if c.Cluster == "" {
		c.Cluster = "standalone"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	if c.Store == nil {
		return errors.New("broker: no metadata store")
	}
	return nil
}

// Broker is a running broker.
type Broker struct {
	cfg      Config
	lc       *ledger.Client
	svc      *service.Service
	srv      *server.Server
	http     *http.Server
	ln       net.Listener
	httpLn   net.Listener
	serveErr chan error
	metrics  *metrics.Collector // nil without Config.Metrics
	// pulsarURL is the advertised pulsar:// URL; advertisedHost the host in it.
	pulsarURL, advertisedHost string
}

// Start starts a broker and returns once it accepts connections.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	lc, err := ledger.NewClient(ledger.ClientConfig{Store: cfg.Store, Logger: log.With("component", "ledger")})
	if err != nil {
		return nil, err
	}
	mlCfg := cfg.ManagedLedger
	mlCfg.Logger = log.With("component", "managedledger")
	mlf := managedledger.NewFactory(cfg.Store, lc, mlCfg)
	svcCfg := service.Config{Cluster: cfg.Cluster, BrokerID: cfg.BrokerID, Logger: log,
		RetentionCheckInterval: cfg.RetentionCheckInterval, MessageExpiryCheckInterval: cfg.MessageExpiryCheckInterval,
		BacklogQuotaCheckInterval: cfg.BacklogQuotaCheckInterval}
	var mc *metrics.Collector
	src := &metrics.ServiceSource{}
	if cfg.Metrics != nil {
		mc = metrics.New(metrics.Config{Cluster: cfg.Cluster, Source: src})
		svcCfg.ObservePublish = func(t *service.Topic, d time.Duration, err error) { mc.ObservePublish(t, d, err) }
	}
	svc := service.New(cfg.Store, mlf, svcCfg)
	src.Service = svc
	if err := svc.Namespaces.Bootstrap(ctx, cfg.Cluster); err != nil {
		lc.Close()
		return nil, fmt.Errorf("broker: bootstrap public/default: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		lc.Close()
		return nil, fmt.Errorf("broker: listen %s: %w", cfg.ListenAddr, err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if cfg.AdvertisedHost != "" {
		host = cfg.AdvertisedHost
	}
	b := &Broker{cfg: cfg, lc: lc, svc: svc, ln: ln, serveErr: make(chan error, 2),
		pulsarURL: "pulsar://" + net.JoinHostPort(host, port), advertisedHost: host}
	b.srv = server.New(svc, server.Config{
		AdvertisedURL:  b.pulsarURL,
		MaxMessageSize: cfg.MaxMessageSize,
		Logger:         log.With("component", "server"),
	})
	go func() { b.serveErr <- b.srv.Serve(ln) }()
	if cfg.HTTPAddr != "" {
		hl, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			b.Close(context.Background())
			return nil, fmt.Errorf("broker: listen %s: %w", cfg.HTTPAddr, err)
		}
		b.httpLn = hl
		b.http = &http.Server{Handler: b.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { b.serveErr <- b.http.Serve(hl) }()
	}
	if mc != nil {
		if err := cfg.Metrics.Register(mc); err != nil {
			b.Close(context.Background())
			return nil, fmt.Errorf("broker: register metrics: %w", err)
		}
		b.metrics = mc
	}
	svc.EnforcePolicies() // stopped by svc.Close (in b.Close)
	return b, nil
}

// Addr is the Pulsar protocol listen address.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// HTTPAddr is the HTTP listen address ("" when disabled).
func (b *Broker) HTTPAddr() string {
	if b.httpLn == nil {
		return ""
	}
	return b.httpLn.Addr().String()
}

// Service exposes the topic service (admin, tests).
func (b *Broker) Service() *service.Service { return b.svc }

func (b *Broker) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v2/brokers/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	httpURL := ""
	if b.httpLn != nil {
		_, port, _ := net.SplitHostPort(b.httpLn.Addr().String())
		httpURL = "http://" + net.JoinHostPort(b.advertisedHost, port)
	}
	admin.Register(mux, admin.Config{Service: b.svc, Cluster: b.cfg.Cluster, BrokerURL: b.pulsarURL, HTTPURL: httpURL,
		Bookies: registry.New(b.cfg.Store).Available})
	if g, ok := b.cfg.Metrics.(prometheus.Gatherer); ok {
		mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	return admin.Guard(mux)
}

// Close stops serving, closes every topic (persisting cursors and closing ledgers) and
// releases the ledger client.
func (b *Broker) Close(ctx context.Context) {
	if b.http != nil {
		b.http.Shutdown(ctx)
	}
	b.srv.Close(ctx)
	b.svc.Close(ctx)
	b.lc.Close()
	if b.metrics != nil {
		b.cfg.Metrics.Unregister(b.metrics)
	}
}
