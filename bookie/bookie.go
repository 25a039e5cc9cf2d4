package bookie

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/bookie/server"
	"github.com/strata-io/strata/bookie/store"
	"github.com/strata-io/strata/metadata"
)

// Bookie is a running storage node. Create it with Start; stop it with Close.
type Bookie struct {
	cfg        Config
	log        *slog.Logger
	id         string
	advertised string
	httpAddr   string

	md     *metadata.Store
	ownMD  bool
	reg    *registry.Registry
	st     *store.Store
	srv    *server.Server
	grpc   *grpc.Server
	lis    net.Listener
	http   *http.Server
	served chan struct{} // closed when grpc.Serve returns
	// metrics is registered with cfg.Metrics while the bookie runs (nil without it).
	metrics *metrics

	diskUsage   atomic.Uint64 // math.Float64bits of the last measured usage
	modeChanged chan struct{} // cap 1: the disk monitor tells the registrar
	stopBG      context.CancelFunc
	wg          sync.WaitGroup // background goroutines: registrar, disk monitor
	closeOnce   sync.Once
	closeErr    error

	mu sync.Mutex
	// lease is the registrar's current lease (nil while it has none); Close revokes it.
	lease *metadata.Lease
}

// Start brings a bookie up (see doc.go for the order). ctx bounds start-up only; the
// bookie runs until Close. A cookie mismatch is an error wrapping ErrCookie.
func Start(ctx context.Context, cfg Config) (_ *Bookie, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	b := &Bookie{cfg: cfg, log: cfg.Logger, modeChanged: make(chan struct{}, 1), served: make(chan struct{})}
	var cleanups []func()
	defer func() {
		if err != nil {
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
		}
	}()

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("bookie: data dir: %w", err)
	}
	b.md = cfg.Metadata
	if b.md == nil {
		if b.md, err = metadata.Open(cfg.Etcd); err != nil {
			return nil, fmt.Errorf("bookie: %w", err)
		}
		b.ownMD = true
		cleanups = append(cleanups, func() { b.md.Close() })
	}
	b.reg = registry.New(b.md)

	if b.lis, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		return nil, fmt.Errorf("bookie: listen on %s: %w", cfg.ListenAddr, err)
	}
	cleanups = append(cleanups, func() { b.lis.Close() })
	if b.advertised, err = advertisedAddr(cfg.AdvertisedAddr, b.lis.Addr()); err != nil {
		return nil, err
	}
	b.id = cfg.ID
	if b.id == "" {
		b.id = b.advertised
	}
	b.log = b.log.With("bookie", b.id)

	if err := checkCookie(ctx, b.md, b.id, cfg.DataDir, b.log); err != nil {
		return nil, err
	}

	stOpts := store.Options{Logger: b.log}
	if cfg.JournalDir != "" {
		if stOpts.WALDir, err = filepath.Abs(cfg.JournalDir); err != nil {
			return nil, fmt.Errorf("bookie %s: journal dir: %w", b.id, err)
		}
	}
	if b.st, err = store.Open(filepath.Join(cfg.DataDir, storeDirName), stOpts); err != nil {
		return nil, fmt.Errorf("bookie %s: %w", b.id, err)
	}
	cleanups = append(cleanups, func() { b.st.Close() })
	srvCfg := server.Config{MaxEntrySize: cfg.MaxEntrySize, Logger: b.log}
	var m *metrics
	if cfg.Metrics != nil {
		m = newMetrics(b)
		srvCfg.ObserveAdd = m.observeAdd
	}
	if b.srv, err = server.New(b.st, srvCfg); err != nil {
		return nil, err
	}
	if m != nil {
		if err := cfg.Metrics.Register(m); err != nil {
			return nil, fmt.Errorf("bookie %s: register metrics: %w", b.id, err)
		}
		b.metrics = m
		cleanups = append(cleanups, func() { cfg.Metrics.Unregister(m) })
	}
	b.grpc = grpc.NewServer(b.srv.GRPCOptions()...)
	b.srv.Register(b.grpc)
	go func() {
		defer close(b.served)
		if err := b.grpc.Serve(b.lis); err != nil {
			b.log.Error("bookie: gRPC server stopped", "err", err)
		}
	}()
	cleanups = append(cleanups, func() { b.grpc.Stop(); <-b.served })

	if cfg.HTTPAddr != "" {
		if err := b.startHTTP(cfg.HTTPAddr); err != nil {
			return nil, err
		}
		cleanups = append(cleanups, func() { b.http.Close() })
	}

	if cfg.ForceReadOnly {
		b.srv.SetReadOnly(true)
	}
	b.checkDisk()
	select {
	case <-b.modeChanged: // the first registration below already has the mode
	default:
	}
	lease, err := b.md.GrantLease(ctx, cfg.LeaseTTL)
	if err != nil {
		return nil, fmt.Errorf("bookie %s: %w", b.id, err)
	}
	if err := b.register(ctx, lease); err != nil {
		lease.Revoke(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("bookie %s: register: %w", b.id, err)
	}
	b.lease = lease

	bg, stop := context.WithCancel(context.Background())
	b.stopBG = stop
	b.wg.Add(2)
	go b.registrar(bg, lease)
	go b.diskMonitor(bg)
	b.log.Info("bookie: serving", "addr", b.lis.Addr().String(), "advertised", b.advertised, "readOnly", b.srv.ReadOnly())
	return b, nil
}

// advertisedAddr is the configured address, or the listen address with an unspecified
// host (0.0.0.0, ::) replaced by the host name.
func advertisedAddr(configured string, listen net.Addr) (string, error) {
	if configured != "" {
		return configured, nil
	}
	host, port, err := net.SplitHostPort(listen.String())
	if err != nil {
		return "", fmt.Errorf("bookie: listen address %s: %w", listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if host, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("bookie: no advertised address and no host name: %w", err)
		}
	}
	return net.JoinHostPort(host, port), nil
}

// ID is the bookie's id in etcd.
func (b *Bookie) ID() string { return b.id }

// Addr is the address the gRPC server really listens on (with the chosen port when the
// configured one was 0).
func (b *Bookie) Addr() string { return b.lis.Addr().String() }

// AdvertisedAddr is the address published in the registration.
func (b *Bookie) AdvertisedAddr() string { return b.advertised }

// HTTPAddr is the address the HTTP server listens on, "" when there is none.
func (b *Bookie) HTTPAddr() string { return b.httpAddr }

// ReadOnly reports whether the bookie refuses normal adds.
func (b *Bookie) ReadOnly() bool { return b.srv.ReadOnly() }

// Store is the bookie's store (for in-process callers such as standalone mode's tools).
func (b *Bookie) Store() *store.Store { return b.st }

// closeTimeout bounds each network step of Close (unregister, graceful stop).
const closeTimeout = 5 * time.Second

// Close unregisters the bookie, stops serving (gracefully, then by force after a few
// seconds, since AddEntries streams can stay open indefinitely), and closes the store.
// Calling it again returns the first result.
func (b *Bookie) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Bookie) close() error {
	var errs []error
	b.stopBG()
	b.wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := b.reg.Unregister(ctx, b.id); err != nil {
		errs = append(errs, fmt.Errorf("bookie %s: unregister: %w", b.id, err))
	}
	b.mu.Lock()
	lease := b.lease
	b.mu.Unlock()
	if lease != nil {
		lease.Revoke(ctx) // best effort: the keys are deleted already; the lease would expire anyway
	}

	b.srv.Shutdown()
	stopped := make(chan struct{})
	go func() { b.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(closeTimeout):
		b.log.Warn("bookie: streams still open after the grace period; closing them")
		b.grpc.Stop()
		<-stopped
	}
	<-b.served
	if b.http != nil {
		hctx, hcancel := context.WithTimeout(context.Background(), closeTimeout)
		if err := b.http.Shutdown(hctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.http.Close()
		}
		hcancel()
	}
	if b.metrics != nil {
		b.cfg.Metrics.Unregister(b.metrics)
	}
	if err := b.st.Close(); err != nil {
		errs = append(errs, fmt.Errorf("bookie %s: close store: %w", b.id, err))
	}
	if b.ownMD {
		if err := b.md.Close(); err != nil {
			errs = append(errs, fmt.Errorf("bookie %s: close etcd connection: %w", b.id, err))
		}
	}
	b.log.Info("bookie: stopped")
	return errors.Join(errs...)
}
