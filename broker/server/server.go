package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/wire"
)

// Config configures the protocol server.
type Config struct {
	// AdvertisedURL is this broker's pulsar:// URL, returned by lookups.
	AdvertisedURL string
	// MaxMessageSize is announced in CONNECTED (default 5 MiB); frames up to it plus
	// wire.FramePadding are accepted.
	MaxMessageSize int
	// ServerVersion is announced in CONNECTED.
	ServerVersion string
	// MaxPendingPublishPerConnection bounds SENDs awaiting their receipt; past it the
	// connection stops reading (back-pressure). Default 1000, as Pulsar.
	MaxPendingPublishPerConnection int
	// IdleTimeout closes a connection that sent nothing for this long (clients ping
	// every 30 s). Default 2 min.
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

func (c *Config) applyDefaults() {
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = wire.DefaultMaxMessageSize
	}
	if c.ServerVersion == "" {
		c.ServerVersion = "Strata"
	}
	if c.MaxPendingPublishPerConnection == 0 {
		c.MaxPendingPublishPerConnection = 1000
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Server accepts Pulsar protocol connections.
type Server struct {
	cfg Config
	svc *service.Service
	log *slog.Logger

	mu     sync.Mutex
	lns    []net.Listener
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a Server over the service.
func New(svc *service.Service, cfg Config) *Server {
	cfg.applyDefaults()
	return &Server{cfg: cfg, svc: svc, log: cfg.Logger, conns: map[*conn]struct{}{}}
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return errors.New("server: closed")
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.run()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops accepting and closes every connection.
func (s *Server) Close(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	lns := s.lns
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, c := range conns {
		c.close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
