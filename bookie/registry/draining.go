package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strata-io/strata/metadata"
)

// Draining marks (decommission). An operator marks a bookie as draining
// (`strata admin bookies decommission`): from then on no writer places a new ensemble
// on it (Writable leaves it out) and the auto-recovery worker copies every fragment it
// stores to other bookies. The mark is a plain key, not bound to a lease: it outlives
// the bookie's process and is removed only by ClearDraining.

// DrainMark is the value of a draining key.
type DrainMark struct {
	// SinceUnixMillis is when the mark was first set (wall clock of the marking
	// process; informational — the worker measures its own delays on its own clock).
	SinceUnixMillis int64 `json:"sinceUnixMillis"`
}

// ErrUnknownBookie: no bookie with this id ever registered (it has no cookie).
var ErrUnknownBookie = errors.New("registry: unknown bookie")

// ValidateID refuses a bookie id that could not be a key segment: empty, with "/", or
// a "." / ".." segment.
func ValidateID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("registry: invalid bookie id %q", id)
	}
	return nil
}

// Known reports whether bookie id ever registered: its cookie exists.
func (r *Registry) Known(ctx context.Context, id string) (bool, error) {
	if err := ValidateID(id); err != nil {
		return false, err
	}
	_, err := r.s.Get(ctx, r.s.Keys.Cookie(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, metadata.ErrNotFound):
		return false, nil
	}
	return false, err
}

// SetDraining marks bookie id as draining. Marking a bookie that is already draining
// keeps the first mark. A bookie that never registered is ErrUnknownBookie.
func (r *Registry) SetDraining(ctx context.Context, id string) error {
	known, err := r.Known(ctx, id)
	if err != nil {
		return err
	}
	if !known {
		return fmt.Errorf("%w: %s", ErrUnknownBookie, id)
	}
	data, err := json.Marshal(DrainMark{SinceUnixMillis: time.Now().UnixMilli()})
	if err != nil {
		return err
	}
	_, err = r.s.Create(ctx, r.s.Keys.BookieDraining(id), data)
	if errors.Is(err, metadata.ErrExists) {
		return nil
	}
	return err
}

// ClearDraining removes bookie id's draining mark (a cancelled decommission). Fragments
// already moved stay where they are.
func (r *Registry) ClearDraining(ctx context.Context, id string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	return r.s.Delete(ctx, r.s.Keys.BookieDraining(id), -1)
}

// Draining returns the draining marks by bookie id.
func (r *Registry) Draining(ctx context.Context) (map[string]DrainMark, error) {
	vals, _, err := r.s.List(ctx, r.s.Keys.BookiesDraining())
	if err != nil {
		return nil, err
	}
	out := make(map[string]DrainMark, len(vals))
	for _, v := range vals {
		id, mark, err := ParseDrainMark(r.s, v)
		if err != nil {
			return nil, err
		}
		out[id] = mark
	}
	return out, nil
}

// ParseDrainMark decodes a value read (or watched) under Keys.BookiesDraining.
func ParseDrainMark(s *metadata.Store, v metadata.Value) (id string, mark DrainMark, err error) {
	id, ok := strings.CutPrefix(v.Key, s.Keys.BookiesDraining())
	if !ok || ValidateID(id) != nil {
		return "", DrainMark{}, fmt.Errorf("registry: %q is not a draining key", v.Key)
	}
	if len(v.Data) > 0 { // a delete event carries no value
		if err := json.Unmarshal(v.Data, &mark); err != nil {
			return "", DrainMark{}, fmt.Errorf("registry: bad draining mark at %s: %w", v.Key, err)
		}
	}
	return id, mark, nil
}
