package bookie

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The HTTP side: /health answers 200 with the bookie's id and mode while the process
// serves; /metrics serves Config.Metrics when it is also a prometheus.Gatherer.

func (b *Bookie) startHTTP(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("bookie: http listen on %s: %w", addr, err)
	}
	b.httpAddr = lis.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(struct {
			Status    string  `json:"status"`
			ID        string  `json:"id"`
			ReadOnly  bool    `json:"readOnly"`
			DiskUsage float64 `json:"diskUsage"`
		}{"ok", b.id, b.srv.ReadOnly(), b.DiskUsage()})
	})
	if g, ok := b.cfg.Metrics.(prometheus.Gatherer); ok {
		mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	b.http = &http.Server{Handler: mux}
	go b.http.Serve(lis)
	return nil
}
