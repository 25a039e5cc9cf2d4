package resources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// A topic's schema registry: the ordered list of the schemas its producers registered,
// shared by all partitions of a partitioned topic (Pulsar keys it by the base name). A
// version is the schema's index in that list, sent on the wire as 8 big-endian bytes,
// as Pulsar's versions are.
//
// Every schema is accepted (Pulsar's ALWAYS_COMPATIBLE strategy): there is no
// compatibility check yet. Registering a schema equal to one already in the list returns
// that version.

// SchemaInfo is one registered schema, as the client describes it.
type SchemaInfo struct {
	Name       string            `json:"name"`
	Type       int32             `json:"type"` // Pulsar's Schema.Type number
	Data       []byte            `json:"data"`
	Properties map[string]string `json:"properties,omitempty"`
}

func (a SchemaInfo) equal(b SchemaInfo) bool {
	return a.Type == b.Type && bytes.Equal(a.Data, b.Data) && maps.Equal(a.Properties, b.Properties)
}

// schemaRecordVersion is the format version of the record (docs/format/metadata.md).
const schemaRecordVersion = 1

type schemaRecord struct {
	FormatVersion int          `json:"formatVersion"`
	Versions      []SchemaInfo `json:"versions"`
}

// Schemas reads and writes topics' schema registries.
type Schemas struct{ s *metadata.Store }

// NewSchemas returns the schema registries kept in store.
func NewSchemas(store *metadata.Store) *Schemas { return &Schemas{s: store} }

func (sc *Schemas) key(name topic.Name) string {
	b := name.Base()
	return sc.s.Keys.Schema(string(b.Domain), b.Tenant, b.Namespace, b.Local)
}

func (sc *Schemas) read(ctx context.Context, name topic.Name) (schemaRecord, int64, error) {
	v, err := sc.s.Get(ctx, sc.key(name))
	if errors.Is(err, metadata.ErrNotFound) {
		return schemaRecord{FormatVersion: schemaRecordVersion}, 0, nil
	}
	if err != nil {
		return schemaRecord{}, 0, err
	}
	var rec schemaRecord
	if err := json.Unmarshal(v.Data, &rec); err != nil {
		return schemaRecord{}, 0, fmt.Errorf("service: schema record of %s: %w", name, err)
	}
	if rec.FormatVersion != schemaRecordVersion {
		return schemaRecord{}, 0, fmt.Errorf("service: schema record of %s has format version %d, want %d",
			name, rec.FormatVersion, schemaRecordVersion)
	}
	return rec, v.ModRevision, nil
}

// GetOrCreate returns the version of info in the topic's registry, appending it first
// when no equal schema is there.
func (sc *Schemas) GetOrCreate(ctx context.Context, name topic.Name, info SchemaInfo) (int64, error) {
	for {
		rec, rev, err := sc.read(ctx, name)
		if err != nil {
			return 0, err
		}
		for i, v := range rec.Versions {
			if v.equal(info) {
				return int64(i), nil
			}
		}
		rec.Versions = append(rec.Versions, info)
		b, err := json.Marshal(rec)
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			_, err = sc.s.Create(ctx, sc.key(name), b)
		} else {
			_, err = sc.s.CAS(ctx, sc.key(name), b, rev)
		}
		switch {
		case err == nil:
			return int64(len(rec.Versions) - 1), nil
		case errors.Is(err, metadata.ErrExists), errors.Is(err, metadata.ErrRevisionMismatch):
			continue // another registration won the race: decide again
		default:
			return 0, err
		}
	}
}

// Get returns the schema at version (the latest when version < 0) and its version.
func (sc *Schemas) Get(ctx context.Context, name topic.Name, version int64) (SchemaInfo, int64, error) {
	rec, _, err := sc.read(ctx, name)
	if err != nil {
		return SchemaInfo{}, 0, err
	}
	if version < 0 {
		version = int64(len(rec.Versions)) - 1
	}
	if version < 0 || version >= int64(len(rec.Versions)) {
		return SchemaInfo{}, 0, fmt.Errorf("%w: %s version %d", ErrSchemaNotFound, name, version)
	}
	return rec.Versions[version], version, nil
}
