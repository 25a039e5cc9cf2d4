// Package broker assembles a Pulsar-protocol broker: the ledger client, the managed
// ledger factory (with, when configured, the tiered store closed ledgers are offloaded
// to: offload.go), the topic service, the binary protocol server on :6650 and the HTTP
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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strata-io/strata/bookie/ledger"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/broker/admin"
	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/metrics"
	"github.com/strata-io/strata/broker/ownership"
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
	// AdvertisedAddress (host:port), when set, is the whole Pulsar address clients are
	// told to connect to; it overrides AdvertisedHost.
	AdvertisedAddress string
	Cluster           string
	// BrokerID names the broker in etcd (its ownership keys and record); default the
	// advertised host:port. Two live brokers must never share one.
	BrokerID string
	// LeaseTTL is the TTL of the broker's etcd session, which backs its bundle
	// ownership (default 10 s): a dead broker's topics move after about this long.
	LeaseTTL time.Duration
	// DefaultBundles is the number of bundles of a namespace never split (default 4).
	DefaultBundles int
	// ManagedLedger configures the managed ledgers; its Offload is set from Offload.
	ManagedLedger managedledger.Config
	// Offload is tiered storage (offload.go); the zero value is off.
	Offload OffloadConfig
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
	return c.Offload.Validate()
}

// Broker is a running broker.
type Broker struct {
	cfg      Config
	lc       *ledger.Client
	own      *ownership.Manager
	svc      *service.Service
	srv      *server.Server
	http     *http.Server
	ln       net.Listener
	httpLn   net.Listener
	serveErr chan error
	metrics  *metrics.Collector // nil without Config.Metrics
	// pulsarURL is the advertised pulsar:// URL; advertisedHost the host in it;
	// httpURL the advertised http:// URL ("" without HTTP).
	pulsarURL, advertisedHost, httpURL string
}

// Start starts a broker and returns once it accepts connections.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	offload, err := cfg.Offload.managedLedger(ctx)
	if err != nil {
		return nil, err
	}
	lc, err := ledger.NewClient(ledger.ClientConfig{Store: cfg.Store, Logger: log.With("component", "ledger")})
	if err != nil {
		return nil, err
	}
	// Listen first: the advertised URLs go into the broker's etcd record.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		lc.Close()
		return nil, fmt.Errorf("broker: listen %s: %w", cfg.ListenAddr, err)
	}
	var hl net.Listener
	if cfg.HTTPAddr != "" {
		if hl, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			ln.Close()
			lc.Close()
			return nil, fmt.Errorf("broker: listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if cfg.AdvertisedHost != "" {
		host = cfg.AdvertisedHost
	}
	if cfg.AdvertisedAddress != "" {
		if host, port, err = net.SplitHostPort(cfg.AdvertisedAddress); err != nil {
			ln.Close()
			lc.Close()
			return nil, fmt.Errorf("broker: advertised address: %w", err)
		}
	}
	b := &Broker{cfg: cfg, lc: lc, ln: ln, httpLn: hl, serveErr: make(chan error, 2),
		pulsarURL: "pulsar://" + net.JoinHostPort(host, port), advertisedHost: host}
	if hl != nil {
		_, hport, _ := net.SplitHostPort(hl.Addr().String())
		b.httpURL = "http://" + net.JoinHostPort(host, hport)
	}
	if cfg.BrokerID == "" {
		cfg.BrokerID = net.JoinHostPort(host, port)
		b.cfg.BrokerID = cfg.BrokerID
	}
	fail := func(err error) (*Broker, error) {
		if hl != nil {
			hl.Close()
		}
		ln.Close()
		if b.own != nil {
			b.own.Close(context.Background())
		}
		lc.Close()
		return nil, err
	}

	mlCfg := cfg.ManagedLedger
	mlCfg.Logger = log.With("component", "managedledger")
	mlCfg.Offload = offload
	mlf := managedledger.NewFactory(cfg.Store, lc, mlCfg)
	svcCfg := service.Config{Cluster: cfg.Cluster, BrokerID: cfg.BrokerID, Logger: log,
		RetentionCheckInterval: cfg.RetentionCheckInterval, MessageExpiryCheckInterval: cfg.MessageExpiryCheckInterval,
		BacklogQuotaCheckInterval: cfg.BacklogQuotaCheckInterval, OffloadDefaults: cfg.Offload.Policy}
	var mc *metrics.Collector
	src := &metrics.ServiceSource{}
	if cfg.Metrics != nil {
		mcfg := metrics.Config{Cluster: cfg.Cluster, Source: src}
		if offload.Store != nil {
			mcfg.Offload = mlf.OffloadMetrics
		}
		mc = metrics.New(mcfg)
		svcCfg.ObservePublish = func(t *service.Topic, d time.Duration, err error) { mc.ObservePublish(t, d, err) }
		svcCfg.TopicHooks = append(svcCfg.TopicHooks, mc)
	}
	var loaded atomic.Pointer[service.Service] // set once the service exists
	own, err := ownership.Start(ctx, ownership.Config{Store: cfg.Store, BrokerID: cfg.BrokerID,
		PulsarURL: b.pulsarURL, HTTPURL: b.httpURL, LeaseTTL: cfg.LeaseTTL, DefaultBundles: cfg.DefaultBundles,
		Load: func() ownership.Load { return loadOf(loaded.Load()) }, Logger: log})
	if err != nil {
		return fail(fmt.Errorf("broker: ownership session: %w", err))
	}
	b.own = own
	svcCfg.Ownership = own
	svc := service.New(cfg.Store, mlf, svcCfg)
	loaded.Store(svc)
	own.OnRelease(svc.UnloadBundle)
	b.svc = svc
	src.Service = svc
	if err := svc.Namespaces.Bootstrap(ctx, cfg.Cluster); err != nil {
		return fail(fmt.Errorf("broker: bootstrap public/default: %w", err))
	}
	b.srv = server.New(svc, server.Config{
		AdvertisedURL:  b.pulsarURL,
		MaxMessageSize: cfg.MaxMessageSize,
		Logger:         log.With("component", "server"),
	})
	go func() { b.serveErr <- b.srv.Serve(ln) }()
	if hl != nil {
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
	admin.Register(mux, admin.Config{Service: b.svc, Cluster: b.cfg.Cluster, BrokerURL: b.pulsarURL, HTTPURL: b.httpURL,
		Bookies: registry.New(b.cfg.Store).Available, Store: b.cfg.Store})
	if g, ok := b.cfg.Metrics.(prometheus.Gatherer); ok {
		mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	return admin.Guard(mux)
}

// Close stops serving, closes every topic (persisting cursors and closing ledgers) and
// releases the ledger client.
//
// Its bundles are released first, one by one, each after its topics are unloaded, so
// that clients move to other brokers with nothing but a reconnect.
func (b *Broker) Close(ctx context.Context) {
	b.own.Close(ctx)
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

// loadOf is the load reported in the broker's record (nothing before the service exists).
func loadOf(svc *service.Service) ownership.Load {
	if svc == nil {
		return ownership.Load{}
	}
	return svc.Load()
}
