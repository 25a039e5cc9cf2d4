// Package registry is the bookie registry in etcd: how a bookie announces itself (under a
// lease, as read-write or read-only), how an operator marks a bookie as draining
// (decommission, draining.go), and how ledger writers find bookies to place ensembles
// on. Layout: docs/format/metadata.md.
package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/strata-io/strata/metadata"
)

// Info is what a bookie publishes about itself while it is alive.
type Info struct {
	ID       string `json:"id"`                 // stable bookie id (default: its advertised address)
	Address  string `json:"address"`            // gRPC host:port
	HTTP     string `json:"http,omitempty"`     // metrics/health host:port, if served
	ReadOnly bool   `json:"readOnly,omitempty"` // refuses new ledgers' adds; still serves reads
	// Draining: an operator is decommissioning the bookie (draining.go). Like ReadOnly it
	// is derived (from the draining key), never trusted from the registration's value.
	Draining bool `json:"draining,omitempty"`
	// DiskUsage is the fraction of the data disk used when last reported (0..1).
	DiskUsage float64 `json:"diskUsage,omitempty"`
}

// Registry reads and writes registrations.
type Registry struct{ s *metadata.Store }

// New returns a Registry over the store.
func New(s *metadata.Store) *Registry { return &Registry{s: s} }

// Register publishes info under the lease, removing a registration of the opposite mode
// first (a bookie switching between read-write and read-only).
func (r *Registry) Register(ctx context.Context, info Info, lease *metadata.Lease) error {
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := r.s.Delete(ctx, r.s.Keys.BookieAvailable(info.ID, !info.ReadOnly), -1); err != nil {
		return err
	}
	_, err = r.s.Put(ctx, r.s.Keys.BookieAvailable(info.ID, info.ReadOnly), data, metadata.WithLease(lease))
	return err
}

// Unregister removes both registrations of a bookie.
func (r *Registry) Unregister(ctx context.Context, id string) error {
	if err := r.s.Delete(ctx, r.s.Keys.BookieAvailable(id, false), -1); err != nil {
		return err
	}
	return r.s.Delete(ctx, r.s.Keys.BookieAvailable(id, true), -1)
}

// Available lists live bookies, read-write and read-only, sorted by id, each with its
// Draining mark.
func (r *Registry) Available(ctx context.Context) ([]Info, error) {
	vals, _, err := r.s.List(ctx, r.s.Keys.BookiesAvailable())
	if err != nil {
		return nil, err
	}
	draining, err := r.Draining(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(vals))
	for _, v := range vals {
		in, err := r.ParseRegistration(v)
		if err != nil {
			return nil, err
		}
		_, in.Draining = draining[in.ID]
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ParseRegistration decodes a value read (or watched) under BookiesAvailable, with
// ReadOnly derived from its key. Draining is not known from it (see Draining).
func (r *Registry) ParseRegistration(v metadata.Value) (Info, error) {
	var in Info
	if err := json.Unmarshal(v.Data, &in); err != nil {
		return Info{}, fmt.Errorf("registry: bad registration at %s: %w", v.Key, err)
	}
	in.ReadOnly = strings.HasPrefix(v.Key, r.s.Keys.BookiesReadOnly())
	in.Draining = false
	return in, nil
}

// Writable lists the bookies new ensembles may be placed on: registered read-write and
// not draining. Ledger writers (Create, ensemble changes) and the auto-recovery worker
// (replacements) choose only from it.
func (r *Registry) Writable(ctx context.Context) ([]Info, error) {
	all, err := r.Available(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, in := range all {
		if !in.ReadOnly && !in.Draining {
			out = append(out, in)
		}
	}
	return out, nil
}

// Lookup finds one live bookie's registration by id; metadata.ErrNotFound when it is
// not registered (down). It reads the registration only: Draining is not set (address
// resolution, its caller, does not care).
func (r *Registry) Lookup(ctx context.Context, id string) (Info, error) {
	for _, ro := range []bool{false, true} {
		v, err := r.s.Get(ctx, r.s.Keys.BookieAvailable(id, ro))
		if err == nil {
			var in Info
			if err := json.Unmarshal(v.Data, &in); err != nil {
				return Info{}, fmt.Errorf("registry: bad registration for %s: %w", id, err)
			}
			in.ReadOnly = ro
			return in, nil
		}
	}
	return Info{}, fmt.Errorf("%w: bookie %s", metadata.ErrNotFound, id)
}

// RegistrationID parses the bookie id out of a registration key (read-write or
// read-only, under Keys.BookiesAvailable); ok is false for any other key.
func RegistrationID(s *metadata.Store, key string) (id string, ok bool) {
	for _, p := range []string{s.Keys.BookiesReadWrite(), s.Keys.BookiesReadOnly()} {
		if id, ok := strings.CutPrefix(key, p); ok && id != "" {
			return id, true
		}
	}
	return "", false
}
