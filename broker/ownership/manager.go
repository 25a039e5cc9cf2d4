// Package ownership decides which broker serves which topic.
//
// A broker owns a bundle (bundle.go) through a key in etcd,
// ROOT/ownership/<tenant>/<namespace>/<range>, created if absent and bound to the
// broker's lease. The key's create revision is the ownership epoch. A broker treats
// its claims as valid only until its lease's local deadline (metadata.Lease.Deadline:
// the send time of the last confirmed renewal plus the TTL, on the monotonic clock),
// which comes before etcd can expire the lease and hand the bundle to another broker.
// Past the deadline it stops acknowledging (Claim.Valid turns false), unloads every
// topic and starts over with a new lease; it never reuses a claim made under a lost
// lease. Nothing here uses etcd's election API.
//
// Every live broker keeps a record under ROOT/brokers/<id> (also bound to its lease)
// with its URLs and load. A lookup for an unowned bundle picks the least-loaded live
// broker: if that is this broker it claims the bundle, otherwise it redirects the
// client there with authoritative set, and that broker claims it.
package ownership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// Config configures a Manager.
type Config struct {
	Store    *metadata.Store
	BrokerID string
	// PulsarURL (pulsar://host:port) and HTTPURL (http://host:port) are what lookups
	// redirect clients to.
	PulsarURL, HTTPURL string
	// LeaseTTL of the broker's session (whole seconds; default 10 s). A dead broker's
	// bundles move after about this long.
	LeaseTTL time.Duration
	// DefaultBundles is the number of bundles of a namespace never split (default 4,
	// Pulsar's defaultNumberOfNamespaceBundles).
	DefaultBundles int
	// Load, if set, reports the broker's load for its record (called every few seconds).
	Load   func() Load
	Logger *slog.Logger
	// Clock measures the session's local deadline (Claim.Valid, and when the session is
	// given up); default the system clock. Tests inject a metadatatest.ManualClock to
	// make a deadline pass without waiting for it. The broker record's timestamps are
	// wall-clock readings and do not use it.
	Clock metadata.Clock
}

func (c *Config) applyDefaults() {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.DefaultBundles <= 0 {
		c.DefaultBundles = 4
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Clock == nil {
		c.Clock = metadata.SystemClock{}
	}
}

// Load is what a broker reports about itself.
type Load struct {
	Topics        int     `json:"topics"`
	Producers     int     `json:"producers"`
	Consumers     int     `json:"consumers"`
	MsgRateIn     float64 `json:"msgRateIn"`
	MsgRateOut    float64 `json:"msgRateOut"`
	ThroughputIn  float64 `json:"msgThroughputIn"`
	ThroughputOut float64 `json:"msgThroughputOut"`
}

// BrokerInfo is a live broker's record in etcd (ROOT/brokers/<id>).
type BrokerInfo struct {
	ID        string `json:"brokerId"`
	PulsarURL string `json:"pulsarUrl"`
	HTTPURL   string `json:"httpUrl"`
	// Bundles is the number of bundles the broker owns.
	Bundles int `json:"bundles"`
	Load
	StartedMillis int64 `json:"startedMillis"`
	UpdatedMillis int64 `json:"updatedMillis"`
}

// Owner is the value of an ownership key.
type Owner struct {
	BrokerID  string `json:"brokerId"`
	PulsarURL string `json:"pulsarUrl"`
	HTTPURL   string `json:"httpUrl"`
}

// NotOwnerError: the bundle of the topic is owned by another broker.
type NotOwnerError struct {
	Bundle Bundle
	Owner  Owner
}

func (e *NotOwnerError) Error() string {
	return fmt.Sprintf("ownership: bundle %s is owned by broker %s (%s)", e.Bundle, e.Owner.BrokerID, e.Owner.PulsarURL)
}

var (
	// ErrNoSession: the broker has no valid lease right now (lost, or not yet granted).
	ErrNoSession = errors.New("ownership: broker has no etcd session")
	// ErrNotOwned: the bundle is not owned by this broker.
	ErrNotOwned = errors.New("ownership: bundle not owned by this broker")
	// ErrClosed: the manager is shutting down.
	ErrClosed = errors.New("ownership: shutting down")
)

// session is one lease of the broker's and everything claimed under it.
type session struct {
	lease *metadata.Lease
	lost  atomic.Bool
}

// valid: not lost, and the lease's local deadline (on the manager's clock) not passed.
func (s *session) valid() bool { return !s.lost.Load() && !s.lease.Expired() }

// Claim is this broker's ownership of one bundle.
type Claim struct {
	Bundle Bundle
	// Epoch is the create revision of the ownership key.
	Epoch    int64
	key      string
	sess     *session
	released atomic.Bool
}

// Valid reports whether the claim still holds: not released and the lease's local
// deadline not passed. A broker acknowledges writes only under a valid claim.
func (c *Claim) Valid() bool { return !c.released.Load() && c.sess.valid() }

// Manager holds this broker's session and claims.
type Manager struct {
	cfg   Config
	store *metadata.Store
	log   *slog.Logger

	mu        sync.Mutex
	sess      *session // nil while there is none
	sessReady chan struct{}
	owned     map[string]*Claim // by ownership key
	onRelease func(context.Context, *Claim)
	closed    bool
	// acqMu serialises claiming, so that an ownership key under our lease that is not
	// in owned always means a release in progress.
	acqMu   sync.Mutex
	started time.Time

	report chan struct{} // capacity 1: the broker record should be rewritten
	stop   chan struct{}
	wg     sync.WaitGroup
}

// Start grants the broker's first lease, registers the broker and returns. The
// session is renewed, and replaced after a loss, in the background until Close.
func Start(ctx context.Context, cfg Config) (*Manager, error) {
	cfg.applyDefaults()
	if cfg.Store == nil || cfg.BrokerID == "" {
		return nil, errors.New("ownership: need a store and a broker id")
	}
	m := &Manager{cfg: cfg, store: cfg.Store, log: cfg.Logger.With("component", "ownership"),
		sessReady: make(chan struct{}), owned: map[string]*Claim{}, started: time.Now(),
		report: make(chan struct{}, 1), stop: make(chan struct{})}
	sess, err := m.newSession(ctx)
	if err != nil {
		return nil, err
	}
	m.setSession(sess)
	m.wg.Add(2)
	go m.run(sess)
	go m.reportLoop()
	return m, nil
}

// OnRelease sets the function told about every claim that ends (released, lost with
// the lease, or split): it must unload the bundle's topics before it returns.
func (m *Manager) OnRelease(f func(context.Context, *Claim)) {
	m.mu.Lock()
	m.onRelease = f
	m.mu.Unlock()
}

// BrokerID is this broker's id.
func (m *Manager) BrokerID() string { return m.cfg.BrokerID }

func (m *Manager) ownershipKey(b Bundle) string {
	return m.store.Keys.Ownership(b.Namespace, b.Range())
}
func (m *Manager) brokerKey(id string) string { return m.store.Keys.Broker(id) }

// newSession grants a lease, clears what an earlier incarnation of this broker (same
// id, so the same advertised address: it cannot be alive) left behind, and registers
// the broker.
func (m *Manager) newSession(ctx context.Context) (*session, error) {
	l, err := m.store.GrantLease(ctx, m.cfg.LeaseTTL, metadata.WithClock(m.cfg.Clock))
	if err != nil {
		return nil, err
	}
	s := &session{lease: l}
	if err := m.clearStale(ctx, int64(l.ID())); err != nil {
		l.Stop()
		return nil, err
	}
	if err := m.writeRecord(ctx, s); err != nil {
		l.Stop()
		return nil, err
	}
	m.log.Info("session started", "lease", fmt.Sprintf("%x", int64(l.ID())), "ttl", l.TTL())
	return s, nil
}

// clearStale deletes ownership keys held by this broker id under another lease.
func (m *Manager) clearStale(ctx context.Context, lease int64) error {
	vals, _, err := m.store.List(ctx, m.store.Keys.Ownerships())
	if err != nil {
		return err
	}
	for _, v := range vals {
		var o Owner
		if json.Unmarshal(v.Data, &o) != nil || o.BrokerID != m.cfg.BrokerID || v.Lease == lease {
			continue
		}
		if err := m.store.Delete(ctx, v.Key, v.ModRevision); err != nil && !errors.Is(err, metadata.ErrRevisionMismatch) {
			return err
		}
		m.log.Info("cleared ownership left by an earlier run", "key", v.Key)
	}
	return nil
}

func (m *Manager) writeRecord(ctx context.Context, s *session) error {
	m.mu.Lock()
	n := 0
	for _, c := range m.owned {
		if c.sess == s {
			n++
		}
	}
	m.mu.Unlock()
	info := BrokerInfo{ID: m.cfg.BrokerID, PulsarURL: m.cfg.PulsarURL, HTTPURL: m.cfg.HTTPURL, Bundles: n,
		StartedMillis: m.started.UnixMilli(), UpdatedMillis: time.Now().UnixMilli()}
	if m.cfg.Load != nil {
		info.Load = m.cfg.Load()
	}
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	_, err = m.store.Put(ctx, m.brokerKey(m.cfg.BrokerID), data, metadata.WithLease(s.lease))
	return err
}

func (m *Manager) setSession(s *session) {
	m.mu.Lock()
	m.sess = s
	close(m.sessReady)
	m.mu.Unlock()
}

// run watches the session: at its local deadline (or when the lease is known lost)
// every claim is released and a new session started.
func (m *Manager) run(s *session) {
	defer m.wg.Done()
	for {
		if !m.wait(s) {
			return
		}
		m.log.Warn("lease lost: releasing every bundle", "lease", fmt.Sprintf("%x", int64(s.lease.ID())))
		m.loseSession(s)
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			ctx, cancel := context.WithTimeout(context.Background(), m.cfg.LeaseTTL)
			next, err := m.newSession(ctx)
			cancel()
			if err == nil {
				s = next
				m.setSession(s)
				break
			}
			m.log.Warn("new session", "err", err)
			select {
			case <-m.stop:
				return
			case <-time.After(backoff):
			}
		}
	}
}

// wait returns true when s is lost, false when the manager stops.
func (m *Manager) wait(s *session) bool {
	for {
		d := s.lease.Remaining()
		if d <= 0 {
			return true
		}
		select {
		case <-m.cfg.Clock.After(d):
		case <-s.lease.Done():
			return true
		case <-m.stop:
			return false
		}
	}
}

// loseSession ends a session: its claims are released (topics unloaded) and the lease
// revoked if etcd still answers, so that other brokers need not wait for its expiry.
func (m *Manager) loseSession(s *session) {
	s.lost.Store(true)
	m.mu.Lock()
	if m.sess == s {
		m.sess = nil
		m.sessReady = make(chan struct{})
	}
	var lost []*Claim
	for k, c := range m.owned {
		if c.sess == s {
			lost = append(lost, c)
			delete(m.owned, k)
		}
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range lost {
		m.endClaim(ctx, c)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
	defer rcancel()
	s.lease.Revoke(rctx) // best effort
}

// endClaim marks a claim released and has its topics unloaded.
func (m *Manager) endClaim(ctx context.Context, c *Claim) {
	c.released.Store(true)
	m.mu.Lock()
	f := m.onRelease
	m.mu.Unlock()
	if f != nil {
		f(ctx, c)
	}
	m.log.Info("released bundle", "bundle", c.Bundle.String(), "epoch", c.Epoch)
	m.signalReport()
}

func (m *Manager) signalReport() {
	select {
	case m.report <- struct{}{}:
	default:
	}
}

// reportLoop rewrites the broker record every few seconds and after ownership changes.
func (m *Manager) reportLoop() {
	defer m.wg.Done()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		case <-m.report:
		}
		m.mu.Lock()
		s := m.sess
		m.mu.Unlock()
		if s == nil || !s.valid() || m.isClosed() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := m.writeRecord(ctx, s); err != nil {
			m.log.Debug("broker record", "err", err)
		}
		cancel()
	}
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// current returns the live session, waiting up to ctx for one.
func (m *Manager) current(ctx context.Context) (*session, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		s, ready := m.sess, m.sessReady
		m.mu.Unlock()
		if s != nil && s.valid() {
			return s, nil
		}
		if s != nil {
			return nil, ErrNoSession // its deadline passed; run is about to replace it
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNoSession, ctx.Err())
		}
	}
}

// Acquire returns this broker's claim on the bundle of a topic, claiming the bundle if
// nobody owns it. A bundle owned by another broker is a *NotOwnerError.
func (m *Manager) Acquire(ctx context.Context, name topic.Name) (*Claim, error) {
	b, err := m.BundleOf(ctx, name)
	if err != nil {
		return nil, err
	}
	return m.AcquireBundle(ctx, b)
}

// AcquireBundle is Acquire for a bundle.
func (m *Manager) AcquireBundle(ctx context.Context, b Bundle) (*Claim, error) {
	key := m.ownershipKey(b)
	m.mu.Lock()
	c := m.owned[key]
	m.mu.Unlock()
	if c != nil && c.Valid() {
		return c, nil
	}
	m.acqMu.Lock()
	defer m.acqMu.Unlock()
	s, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	me := Owner{BrokerID: m.cfg.BrokerID, PulsarURL: m.cfg.PulsarURL, HTTPURL: m.cfg.HTTPURL}
	data, err := json.Marshal(me)
	if err != nil {
		return nil, err
	}
	for {
		rev, err := m.store.Create(ctx, key, data, metadata.WithLease(s.lease))
		if err == nil {
			return m.adopt(s, b, key, rev)
		}
		if !errors.Is(err, metadata.ErrExists) {
			return nil, err
		}
		v, err := m.store.Get(ctx, key)
		if errors.Is(err, metadata.ErrNotFound) {
			continue // released meanwhile: try again
		}
		if err != nil {
			return nil, err
		}
		if v.Lease == int64(s.lease.ID()) {
			m.mu.Lock()
			c := m.owned[key]
			m.mu.Unlock()
			if c != nil && c.Valid() {
				return c, nil
			}
			return nil, fmt.Errorf("%w: bundle %s is being unloaded", ErrNoSession, b)
		}
		var o Owner
		if err := json.Unmarshal(v.Data, &o); err != nil {
			return nil, fmt.Errorf("ownership: %s: %w", key, err)
		}
		return nil, &NotOwnerError{Bundle: b, Owner: o}
	}
}

// adopt records a claim made under session s, unless s was lost meanwhile.
func (m *Manager) adopt(s *session, b Bundle, key string, epoch int64) (*Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sess != s || !s.valid() || m.closed {
		return nil, ErrNoSession
	}
	c := &Claim{Bundle: b, Epoch: epoch, key: key, sess: s}
	m.owned[key] = c
	m.log.Info("claimed bundle", "bundle", b.String(), "epoch", epoch)
	m.signalReport()
	return c, nil
}

// Owned returns the bundles this broker owns.
func (m *Manager) Owned() []Bundle {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Bundle, 0, len(m.owned))
	for _, c := range m.owned {
		if c.Valid() {
			out = append(out, c.Bundle)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// OwnerOf returns the owner of a bundle; found is false when nobody owns it.
func (m *Manager) OwnerOf(ctx context.Context, b Bundle) (o Owner, found bool, err error) {
	v, err := m.store.Get(ctx, m.ownershipKey(b))
	if errors.Is(err, metadata.ErrNotFound) {
		return Owner{}, false, nil
	}
	if err != nil {
		return Owner{}, false, err
	}
	if err := json.Unmarshal(v.Data, &o); err != nil {
		return Owner{}, false, fmt.Errorf("ownership: %s: %w", v.Key, err)
	}
	return o, true, nil
}

// Result is the answer to a lookup.
type Result struct {
	// Self: this broker owns the bundle (now) and serves the topic.
	Self bool
	// Redirect: ask Target again, authoritatively (it was chosen to own the bundle);
	// otherwise Target owns the bundle.
	Redirect bool
	Target   Owner
}

// Lookup finds the broker that serves a topic, assigning its bundle when nobody owns
// it: authoritative (the client was sent here by another broker's choice) claims it
// for this broker; otherwise the least-loaded live broker is chosen.
func (m *Manager) Lookup(ctx context.Context, name topic.Name, authoritative bool) (Result, error) {
	b, err := m.BundleOf(ctx, name)
	if err != nil {
		return Result{}, err
	}
	return m.LookupBundle(ctx, b, authoritative)
}

// LookupBundle is Lookup for a bundle.
func (m *Manager) LookupBundle(ctx context.Context, b Bundle, authoritative bool) (Result, error) {
	me := Owner{BrokerID: m.cfg.BrokerID, PulsarURL: m.cfg.PulsarURL, HTTPURL: m.cfg.HTTPURL}
	o, found, err := m.OwnerOf(ctx, b)
	if err != nil {
		return Result{}, err
	}
	if found && o.BrokerID != m.cfg.BrokerID {
		return Result{Target: o}, nil
	}
	if !found && !authoritative {
		target, err := m.choose(ctx, b)
		if err != nil {
			return Result{}, err
		}
		if target.BrokerID != m.cfg.BrokerID {
			return Result{Redirect: true, Target: target}, nil
		}
	}
	// Ours, or to be claimed by us.
	if _, err := m.AcquireBundle(ctx, b); err != nil {
		var no *NotOwnerError
		if errors.As(err, &no) {
			return Result{Target: no.Owner}, nil
		}
		return Result{}, err
	}
	return Result{Self: true, Target: me}, nil
}

// Brokers lists the live brokers' records, by id.
func (m *Manager) Brokers(ctx context.Context) ([]BrokerInfo, error) {
	vals, _, err := m.store.List(ctx, m.store.Keys.Brokers())
	if err != nil {
		return nil, err
	}
	out := make([]BrokerInfo, 0, len(vals))
	for _, v := range vals {
		var bi BrokerInfo
		if err := json.Unmarshal(v.Data, &bi); err != nil || bi.ID == "" {
			m.log.Warn("unreadable broker record", "key", v.Key)
			continue
		}
		out = append(out, bi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// choose picks the live broker with the fewest bundles (then topics); ties are broken
// by a hash of the bundle so that a burst of first lookups spreads over the brokers.
func (m *Manager) choose(ctx context.Context, b Bundle) (Owner, error) {
	brokers, err := m.Brokers(ctx)
	if err != nil {
		return Owner{}, err
	}
	if len(brokers) == 0 {
		return Owner{BrokerID: m.cfg.BrokerID, PulsarURL: m.cfg.PulsarURL, HTTPURL: m.cfg.HTTPURL}, nil
	}
	h := fnv.New32a()
	h.Write([]byte(b.String()))
	seed := h.Sum32()
	best := -1
	var bestKey [3]uint64
	for i, bi := range brokers {
		g := fnv.New32a()
		g.Write([]byte(bi.ID))
		k := [3]uint64{uint64(bi.Bundles), uint64(bi.Topics), uint64(g.Sum32() ^ seed)}
		if best < 0 || less(k, bestKey) {
			best, bestKey = i, k
		}
	}
	bi := brokers[best]
	return Owner{BrokerID: bi.ID, PulsarURL: bi.PulsarURL, HTTPURL: bi.HTTPURL}, nil
}

func less(a, b [3]uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Release gives up a bundle this broker owns: its topics are unloaded first, then the
// ownership key is deleted, so that clients find the next owner through lookup.
func (m *Manager) Release(ctx context.Context, b Bundle) error {
	key := m.ownershipKey(b)
	m.mu.Lock()
	c := m.owned[key]
	delete(m.owned, key)
	m.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNotOwned, b)
	}
	m.endClaim(ctx, c)
	if err := m.store.Delete(ctx, key, c.Epoch); err != nil && !errors.Is(err, metadata.ErrRevisionMismatch) {
		return err
	}
	return nil
}

// Split cuts a bundle in two at its midpoint. The bundle must be owned by this broker
// or by nobody; an owned bundle is released afterwards, and its two halves are
// assigned afresh by the next lookups.
func (m *Manager) Split(ctx context.Context, b Bundle) (Bundles, error) {
	if o, found, err := m.OwnerOf(ctx, b); err != nil {
		return Bundles{}, err
	} else if found && o.BrokerID != m.cfg.BrokerID {
		return Bundles{}, &NotOwnerError{Bundle: b, Owner: o}
	}
	bs, rev, err := m.NamespaceBundles(ctx, b.Namespace)
	if err != nil {
		return Bundles{}, err
	}
	next, err := bs.split(b.Namespace, b)
	if err != nil {
		return Bundles{}, err
	}
	data, err := json.Marshal(next)
	if err != nil {
		return Bundles{}, err
	}
	if _, err := m.store.CAS(ctx, bundlesKey(m.store, b.Namespace), data, rev); err != nil {
		return Bundles{}, err
	}
	m.log.Info("split bundle", "bundle", b.String(), "bundles", next.NumBundles)
	if err := m.Release(ctx, b); err != nil && !errors.Is(err, ErrNotOwned) {
		return next, err
	}
	return next, nil
}

// ReleaseAll releases every bundle (a graceful shutdown): clients move to other
// brokers with nothing but a reconnect.
func (m *Manager) ReleaseAll(ctx context.Context) {
	m.mu.Lock()
	var bundles []Bundle
	for _, c := range m.owned {
		bundles = append(bundles, c.Bundle)
	}
	m.mu.Unlock()
	for _, b := range bundles {
		if err := m.Release(ctx, b); err != nil {
			m.log.Warn("release", "bundle", b.String(), "err", err)
		}
	}
}

// Close stops this broker from being chosen for new bundles, releases every bundle
// (unloading their topics), then revokes the session.
func (m *Manager) Close(ctx context.Context) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	m.mu.Unlock()
	if err := m.store.Delete(ctx, m.brokerKey(m.cfg.BrokerID), -1); err != nil {
		m.log.Warn("delete broker record", "err", err)
	}
	m.ReleaseAll(ctx)
	close(m.stop)
	m.wg.Wait()
	m.mu.Lock()
	s := m.sess
	m.mu.Unlock()
	if s != nil {
		s.lost.Store(true)
		if err := s.lease.Revoke(ctx); err != nil {
			m.log.Warn("revoke lease", "err", err)
		}
	}
}
