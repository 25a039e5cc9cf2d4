package metadata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("metadata: key not found")
	// ErrExists: Create found the key already present.
	ErrExists = errors.New("metadata: key already exists")
	// ErrRevisionMismatch: a compare-and-swap lost: the key changed since it was read.
	ErrRevisionMismatch = errors.New("metadata: revision mismatch")
)

// Config says how to reach etcd.
type Config struct {
	Endpoints   []string
	DialTimeout time.Duration // default 5s
	// Root is the prefix every key lives under; default "/strata". Two Strata clusters
	// (geo-replication tests) can share one etcd with different roots.
	Root string
}

func (c *Config) applyDefaults() {
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.Root == "" {
		c.Root = DefaultRoot
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if len(c.Endpoints) == 0 {
		return errors.New("metadata: no etcd endpoints")
	}
	if c.Root != "" && (!strings.HasPrefix(c.Root, "/") || strings.HasSuffix(c.Root, "/")) {
		return fmt.Errorf("metadata: root %q must start and not end with /", c.Root)
	}
	return nil
}

// DefaultRoot is the prefix of all of Strata's keys unless configured otherwise.
const DefaultRoot = "/strata"

// Store is a typed, revision-aware view of etcd under a root prefix. It is safe for
// concurrent use.
type Store struct {
	cli  *clientv3.Client
	own  bool // whether Close closes cli
	root string
	Keys Keys
}

// Open connects to etcd.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		// Keepalives let a client notice a dead etcd connection and fail over.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               nopZap(),
	})
	if err != nil {
		return nil, fmt.Errorf("metadata: connect to etcd %v: %w", cfg.Endpoints, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout)
	defer cancel()
	// clientv3.New does not wait for a connection; make a bad endpoint fail here, clearly.
	if _, err := cli.Get(ctx, cfg.Root+"/"); err != nil {
		cli.Close()
		return nil, fmt.Errorf("metadata: etcd %v not reachable: %w", cfg.Endpoints, err)
	}
	return &Store{cli: cli, own: true, root: cfg.Root, Keys: Keys{root: cfg.Root}}, nil
}

// NewStore wraps an existing client; Close will not close it.
func NewStore(cli *clientv3.Client, root string) *Store {
	if root == "" {
		root = DefaultRoot
	}
	return &Store{cli: cli, root: root, Keys: Keys{root: root}}
}

// Client exposes the raw etcd client for the few callers that need more (transactions
// spanning keys). Prefer the Store's methods.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Close releases the connection if the Store opened it.
func (s *Store) Close() error {
	if s.own {
		return s.cli.Close()
	}
	return nil
}

// Value is a key's data with the revisions a caller needs for a later CAS.
type Value struct {
	Key            string
	Data           []byte
	ModRevision    int64 // pass to CAS
	CreateRevision int64
	Lease          int64
}

// Get reads one key.
func (s *Store) Get(ctx context.Context, key string) (Value, error) {
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return Value{}, fmt.Errorf("metadata: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return Value{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	kv := resp.Kvs[0]
	return Value{Key: string(kv.Key), Data: kv.Value, ModRevision: kv.ModRevision, CreateRevision: kv.CreateRevision, Lease: kv.Lease}, nil
}

// List reads every key under prefix, in key order, and the store revision it was read at
// (start a Watch at rev+1 to continue without a gap).
func (s *Store) List(ctx context.Context, prefix string) (vals []Value, rev int64, err error) {
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: list %s: %w", prefix, err)
	}
	vals = make([]Value, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		vals = append(vals, Value{Key: string(kv.Key), Data: kv.Value, ModRevision: kv.ModRevision, CreateRevision: kv.CreateRevision, Lease: kv.Lease})
	}
	return vals, resp.Header.Revision, nil
}

// Put writes unconditionally and returns the new ModRevision. Use it only for keys with
// a single writer by construction (e.g. a bookie's own registration).
func (s *Store) Put(ctx context.Context, key string, data []byte, opts ...WriteOption) (int64, error) {
	o := writeOpts(opts)
	resp, err := s.cli.Put(ctx, key, string(data), o.put()...)
	if err != nil {
		return 0, fmt.Errorf("metadata: put %s: %w", key, err)
	}
	return resp.Header.Revision, nil
}

// Create writes key only if it does not exist (ErrExists otherwise) and returns its
// revision.
func (s *Store) Create(ctx context.Context, key string, data []byte, opts ...WriteOption) (int64, error) {
	return s.CAS(ctx, key, data, 0, opts...)
}

// CAS writes key only if its ModRevision is still expectRev (0: only if absent), and
// returns the new revision. A lost race is ErrRevisionMismatch (or ErrExists for
// expectRev 0): re-read and decide again.
func (s *Store) CAS(ctx context.Context, key string, data []byte, expectRev int64, opts ...WriteOption) (int64, error) {
	o := writeOpts(opts)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expectRev)).
		Then(clientv3.OpPut(key, string(data), o.put()...)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("metadata: cas %s: %w", key, err)
	}
	if !resp.Succeeded {
		if expectRev == 0 {
			return 0, fmt.Errorf("%w: %s", ErrExists, key)
		}
		return 0, fmt.Errorf("%w: %s (expected %d)", ErrRevisionMismatch, key, expectRev)
	}
	return resp.Header.Revision, nil
}

// Delete removes key if its ModRevision is still expectRev; expectRev < 0 deletes
// unconditionally. Deleting an absent key unconditionally is not an error.
func (s *Store) Delete(ctx context.Context, key string, expectRev int64) error {
	if expectRev < 0 {
		if _, err := s.cli.Delete(ctx, key); err != nil {
			return fmt.Errorf("metadata: delete %s: %w", key, err)
		}
		return nil
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", expectRev)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("metadata: delete %s: %w", key, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w: %s (expected %d)", ErrRevisionMismatch, key, expectRev)
	}
	return nil
}

// DeletePrefix removes every key under prefix.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if _, err := s.cli.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("metadata: delete prefix %s: %w", prefix, err)
	}
	return nil
}

// NextID returns a cluster-wide unique id, strictly greater than every id NextID returned
// before for any name. It is the etcd revision of a write to the generator's key: one
// round trip, no retry loop under contention. Ids are not dense.
func (s *Store) NextID(ctx context.Context, name string) (int64, error) {
	resp, err := s.cli.Put(ctx, s.Keys.IDGen(name), "")
	if err != nil {
		return 0, fmt.Errorf("metadata: next id %s: %w", name, err)
	}
	return resp.Header.Revision, nil
}

// WriteOption modifies a write.
type WriteOption func(*writeOptions)

type writeOptions struct{ lease clientv3.LeaseID }

func (o writeOptions) put() []clientv3.OpOption {
	if o.lease != 0 {
		return []clientv3.OpOption{clientv3.WithLease(o.lease)}
	}
	return nil
}

func writeOpts(opts []WriteOption) writeOptions {
	var o writeOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithLease binds the written key to a lease: it disappears when the lease ends.
func WithLease(l *Lease) WriteOption {
	return func(o *writeOptions) { o.lease = l.ID() }
}
