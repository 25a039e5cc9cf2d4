package bookie

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
)

// The HTTP side: /health for now (metrics later). It answers 200 with the bookie's id and
// mode while the process serves.

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
	b.http = &http.Server{Handler: mux}
	go b.http.Serve(lis)
	return nil
}
