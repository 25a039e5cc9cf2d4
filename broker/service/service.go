package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/ownership"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// Config configures a Service.
type Config struct {
	Cluster string // cluster name; default "standalone"
	// BrokerID makes generated producer names unique across brokers.
	BrokerID string
	// AllowAutoTopicCreation: topics are created on first use (Pulsar's default: true).
	AllowAutoTopicCreation *bool
	// DeduplicationEnabled is the broker default; a namespace policy overrides it.
	DeduplicationEnabled bool
	Logger               *slog.Logger
	// ObservePublish, if set, is told the outcome of every publish that is written: the
	// time from Publish to the entry being durable (or failing). It runs on the managed
	// ledger's callback goroutine and must not block (broker/metrics uses it).
	ObservePublish func(t *Topic, d time.Duration, err error)
	// Intervals of the periodic policy checks (EnforcePolicies), Pulsar's defaults:
	// retentionCheckIntervalInSeconds=120, messageExpiryCheckIntervalInMinutes=5,
	// backlogQuotaCheckIntervalInSeconds=60.
	RetentionCheckInterval     time.Duration
	MessageExpiryCheckInterval time.Duration
	BacklogQuotaCheckInterval  time.Duration
	// Ownership, if set, decides which topics this broker may serve: a topic opens only
	// under a claim on its bundle, and its writes are acknowledged only while the claim
	// is valid. Nil serves every topic (unit tests).
	Ownership *ownership.Manager
	// TopicHooks are told when each topic is loaded and when it is closing (hooks.go).
	TopicHooks []TopicHooks
	// OffloadDefaults is the broker's offload policy (its flags), what a topic gets
	// where neither its namespace nor itself sets one (offload.go). Nil:
	// managedledger.DefaultOffloadPolicy, Pulsar's defaults.
	OffloadDefaults *managedledger.OffloadPolicy
}

func (c *Config) applyDefaults() {
	if c.Cluster == "" {
		c.Cluster = "standalone"
	}
	if c.BrokerID == "" {
		c.BrokerID = "0"
	}
	if c.AllowAutoTopicCreation == nil {
		t := true
		c.AllowAutoTopicCreation = &t
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = 120 * time.Second
	}
	if c.MessageExpiryCheckInterval <= 0 {
		c.MessageExpiryCheckInterval = 5 * time.Minute
	}
	if c.BacklogQuotaCheckInterval <= 0 {
		c.BacklogQuotaCheckInterval = 60 * time.Second
	}
	if c.OffloadDefaults == nil {
		d := managedledger.DefaultOffloadPolicy()
		c.OffloadDefaults = &d
	}
}

// Service is the set of topics this broker serves.
type Service struct {
	cfg   Config
	store *metadata.Store
	mlf   *managedledger.Factory
	log   *slog.Logger
	// Namespaces and Schemas are the etcd records topics obey and admin changes.
	Namespaces  *resources.Namespaces
	Schemas     *resources.Schemas
	policyWatch *resources.PolicyWatch // follows Namespaces' records (EnforcePolicies)

	producerSeq atomic.Uint64

	// ctx is the Service's own context, cancelled by Close; bg are the goroutines it
	// owns besides the enforcer's (a topic closing itself after a fence), waited for by
	// Close.
	ctx context.Context
	bg  *goroutines

	mu     sync.Mutex
	topics map[string]*topicSlot
	closed bool
	// enforcer is set by EnforcePolicies.
	enforcer *policyEnforcer
}

// topicSlot lets concurrent openers of one topic wait for the first.
type topicSlot struct {
	ready chan struct{}
	t     *Topic
	err   error
	// closing: the topic is being closed; once ready, load again.
	closing bool
}

// New returns a Service.
func New(store *metadata.Store, mlf *managedledger.Factory, cfg Config) *Service {
	cfg.applyDefaults()
	s := &Service{cfg: cfg, store: store, mlf: mlf, log: cfg.Logger, Namespaces: resources.NewNamespaces(store),
		Schemas: resources.NewSchemas(store), topics: map[string]*topicSlot{}}
	s.bg = newGoroutines(context.Background())
	s.ctx = s.bg.ctx
	s.policyWatch = resources.NewPolicyWatch(s.Namespaces, cfg.Logger, s)
	return s
}

// Cluster is the cluster name.
func (s *Service) Cluster() string { return s.cfg.Cluster }

var (
	// ErrServiceClosed: the broker is shutting down.
	ErrServiceClosed = errors.New("service: shutting down")
	// ErrOwnershipLost: the broker's claim on the topic's bundle ended (released, or
	// its lease's deadline passed); the client must look the topic up again.
	ErrOwnershipLost = errors.New("service: this broker no longer owns the topic")
)

// Topic returns the open topic called name, opening (and with create, creating) it.
func (s *Service) Topic(ctx context.Context, name topic.Name, create bool) (*Topic, error) {
	return s.load(ctx, name, create, false)
}

// load is Topic; explicit (an admin create) creates the topic even when auto topic
// creation is off.
func (s *Service) load(ctx context.Context, name topic.Name, create, explicit bool) (*Topic, error) {
	if name.Domain != topic.Persistent {
		return nil, fmt.Errorf("%w: %s: non-persistent topics are not supported yet", resources.ErrTopicNotFound, name)
	}
	key := name.String()
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return nil, ErrServiceClosed
		}
		slot, ok := s.topics[key]
		if !ok || !slot.closing {
			break
		}
		s.mu.Unlock()
		select {
		case <-slot.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
	}
	if slot, ok := s.topics[key]; ok {
		s.mu.Unlock()
		select {
		case <-slot.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if slot.err != nil {
			return nil, slot.err
		}
		if c := slot.t.claim; c != nil && !c.Valid() {
			return nil, fmt.Errorf("%w: %s", ErrOwnershipLost, name)
		}
		return slot.t, nil
	}
	slot := &topicSlot{ready: make(chan struct{})}
	s.topics[key] = slot
	s.mu.Unlock()

	slot.t, slot.err = s.openTopic(ctx, name, create, explicit)
	if slot.err == nil {
		// Before the topic becomes visible: nothing can close it yet, so every hook
		// hears "loaded" before "closing".
		s.topicLoaded(slot.t)
	}
	close(slot.ready)
	if slot.err == nil {
		s.refreshPolicies(slot.t) // a change watched while it opened
	}
	if slot.err != nil {
		s.mu.Lock()
		if s.topics[key] == slot {
			delete(s.topics, key)
		}
		s.mu.Unlock()
	}
	return slot.t, slot.err
}

func (s *Service) openTopic(ctx context.Context, name topic.Name, create, explicit bool) (*Topic, error) {
	var claim *ownership.Claim
	if s.cfg.Ownership != nil {
		c, err := s.cfg.Ownership.Acquire(ctx, name)
		if err != nil {
			return nil, err
		}
		claim = c
	}
	pol, polRev, err := s.Namespaces.PoliciesWithRevision(ctx, name.NamespaceName())
	if err != nil {
		if errors.Is(err, resources.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s: %v", resources.ErrTopicNotFound, name, err)
		}
		return nil, err
	}
	exists, err := s.Namespaces.TopicExists(ctx, name)
	if err != nil {
		return nil, err
	}
	if !exists {
		base := name.Base()
		partitioned := false
		if name.IsPartition() {
			n, err := s.Namespaces.PartitionedMetadata(ctx, base)
			if err != nil {
				return nil, err
			}
			partitioned = name.PartitionIndex() < n
		}
		allowAuto := *s.cfg.AllowAutoTopicCreation
		if o := pol.AutoTopicCreationOverride; o != nil {
			allowAuto = o.Allow // the namespace overrides the broker
		}
		if !partitioned && !explicit && (!create || !allowAuto) {
			return nil, fmt.Errorf("%w: %s", resources.ErrTopicNotFound, name)
		}
	}
	// Use a context that survives the caller: the managed ledger's background work is
	// bound to the topic's life, not to the request that opened it.
	tp, tpRev, err := s.Namespaces.TopicPoliciesWithRevision(ctx, name)
	if err != nil {
		return nil, err
	}
	eff := tp.Apply(pol)
	ml, err := s.mlf.OpenWith(context.WithoutCancel(ctx), name.String(), mlPolicies(eff))
	if err != nil {
		return nil, err
	}
	ml.SetOffloadPolicy(s.offloadPolicy(eff))
	t := newTopic(s, name, ml)
	t.claim = claim
	t.pol = &resources.Versioned[resources.Policies]{Value: pol, Rev: polRev}
	t.tpol = resources.Versioned[resources.TopicPolicies]{Value: tp, Rev: tpRev}
	if s.dedupEnabled(eff) {
		t.dedup = newDedup(t)
		if err := t.dedup.load(ctx); err != nil {
			ml.Close(context.WithoutCancel(ctx))
			t.bg.Stop()
			return nil, err
		}
	}
	return t, nil
}

// LoadedTopics returns the topics open on this broker.
func (s *Service) LoadedTopics() []*Topic {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Topic
	for _, slot := range s.topics {
		select {
		case <-slot.ready:
			if slot.t != nil {
				out = append(out, slot.t)
			}
		default:
		}
	}
	return out
}

// UnloadBundle closes every loaded topic opened under claim c (the bundle is being
// released or was lost); their clients reconnect through lookup.
func (s *Service) UnloadBundle(ctx context.Context, c *ownership.Claim) {
	var wg sync.WaitGroup
	for _, t := range s.LoadedTopics() {
		if t.claim == c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Close(ctx)
			}()
		}
	}
	wg.Wait()
}

// Ownership is the broker's ownership manager (nil when it serves every topic).
func (s *Service) Ownership() *ownership.Manager { return s.cfg.Ownership }

// closing marks t as closing in the registry: until done is called, whoever loads
// the topic waits, then opens it afresh — never racing the old managed ledger's close
// with a new open (which would fence it mid-close and refuse the reconnecting client).
func (s *Service) closing(t *Topic) (done func()) {
	key := t.name.String()
	hold := &topicSlot{ready: make(chan struct{}), closing: true}
	s.mu.Lock()
	if slot, ok := s.topics[key]; ok && slot.t == t {
		s.topics[key] = hold
	} else {
		hold = nil // not registered (or a delete holds the slot)
	}
	s.mu.Unlock()
	return func() {
		if hold == nil {
			return
		}
		s.mu.Lock()
		if s.topics[key] == hold {
			delete(s.topics, key)
		}
		s.mu.Unlock()
		close(hold.ready)
	}
}

func (s *Service) dedupEnabled(p resources.Policies) bool {
	if p.DeduplicationEnabled != nil {
		return *p.DeduplicationEnabled
	}
	return s.cfg.DeduplicationEnabled
}

// nextProducerName generates a unique producer name, Pulsar style: cluster-broker-seq.
func (s *Service) nextProducerName() string {
	return fmt.Sprintf("%s-%s-%d", s.cfg.Cluster, s.cfg.BrokerID, s.producerSeq.Add(1))
}

// Close closes every topic (their clients reconnect elsewhere) and returns once every
// goroutine the Service started has ended.
func (s *Service) Close(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stopEnforcing()
	for _, t := range s.LoadedTopics() {
		t.Close(ctx)
	}
	s.bg.Stop() // topics closing themselves (closeAsync)
}

// Load sums what the broker's loaded topics carry, for its ownership record.
func (s *Service) Load() ownership.Load {
	var l ownership.Load
	now := time.Now()
	for _, t := range s.LoadedTopics() {
		l.Topics++
		l.Producers += len(t.Producers())
		l.Consumers += t.consumerCount()
		r, b := t.rateIn.rates(now, t.MsgsIn.Load(), t.BytesIn.Load())
		l.MsgRateIn += r
		l.ThroughputIn += b
		r, b = t.rateOut.rates(now, t.MsgsOut.Load(), t.BytesOut.Load())
		l.MsgRateOut += r
		l.ThroughputOut += b
	}
	return l
}
