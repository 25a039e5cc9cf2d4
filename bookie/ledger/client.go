package ledger

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/strata-io/strata/bookie/internal/grpcbuf"
	"github.com/strata-io/strata/bookie/registry"
	"github.com/strata-io/strata/metadata"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
)

// ClientConfig configures a Client. Zero values take the defaults shown.
type ClientConfig struct {
	// Store is the metadata store (etcd). Required.
	Store *metadata.Store
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// AddTimeout: a bookie that has not acknowledged an add for this long is treated as
	// failed and replaced. Default 10s; negative disables.
	AddTimeout time.Duration
	// ReadTimeout bounds each unary bookie call (reads, ReadLAC, fencing, delete).
	// Default 10s.
	ReadTimeout time.Duration
	// ExplicitLACDelay: how long a writer stays idle before it pushes its LAC to the
	// bookies (so tailing readers see the last entry). Default 10ms; negative disables.
	ExplicitLACDelay time.Duration
	// LongPollWait is how long one WaitLAC long poll lasts at a bookie. Default 5s.
	LongPollWait time.Duration
	// MaxPendingAdds bounds a writer's entries in flight; AppendAsync blocks beyond it.
	// Default 10000.
	MaxPendingAdds int
	// RecoveryReadWindow is how many entries recovery reads forward concurrently.
	// Default 16.
	RecoveryReadWindow int
	// Seed seeds ensemble placement; 0 picks a random seed.
	Seed uint64
	// DialOptions are added to every bookie channel (after the defaults: insecure
	// transport credentials, 64 MiB receive limit).
	DialOptions []grpc.DialOption
}

func (c *ClientConfig) applyDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AddTimeout == 0 {
		c.AddTimeout = 10 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.ExplicitLACDelay == 0 {
		c.ExplicitLACDelay = 10 * time.Millisecond
	}
	if c.LongPollWait <= 0 {
		c.LongPollWait = 5 * time.Second
	}
	if c.MaxPendingAdds <= 0 {
		c.MaxPendingAdds = 10000
	}
	if c.RecoveryReadWindow <= 0 {
		c.RecoveryReadWindow = 16
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
}

// Validate reports a configuration that cannot work.
func (c ClientConfig) Validate() error {
	if c.Store == nil {
		return errors.New("ledger: ClientConfig.Store is required")
	}
	return nil
}

// timeoutTicks: add timeouts are measured in ticks of AddTimeout/timeoutTicks.
const timeoutTicks = 4

// Client writes and reads ledgers across bookies. It holds one gRPC channel and one
// shared add stream per bookie, for every ledger it writes. Safe for concurrent use.
type Client struct {
	cfg      ClientConfig
	store    *metadata.Store
	reg      *registry.Registry
	logger   *slog.Logger
	resolver *bookieResolverBuilder
	// closing is closed by Close; writers abort when they see it.
	closing chan struct{}

	mu sync.Mutex
	// conns: one per bookie id, created on first use.
	conns   map[string]*bookieConn
	writers map[*Writer]struct{}
	rng     *rand.Rand
	closed  bool
}

// NewClient returns a Client. It does no I/O.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	reg := registry.New(cfg.Store)
	c := &Client{
		cfg:      cfg,
		store:    cfg.Store,
		reg:      reg,
		logger:   cfg.Logger,
		resolver: newResolverBuilder(reg, cfg.Logger),
		closing:  make(chan struct{}),
		conns:    map[string]*bookieConn{},
		writers:  map[*Writer]struct{}{},
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	c.logger.Debug("ledger client", "placementSeed", cfg.Seed)
	return c, nil
}

// Close aborts every open writer (pending adds fail with ErrClientClosed; their
// ledgers stay OPEN for a later recovery), then closes every bookie connection. It does
// not touch etcd (the Store belongs to the caller).
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.closing)
	writers := make([]*Writer, 0, len(c.writers))
	for w := range c.writers {
		writers = append(writers, w)
	}
	c.mu.Unlock()
	for _, w := range writers {
		<-w.done
		<-w.cbs.done
	}
	c.mu.Lock()
	conns := make([]*bookieConn, 0, len(c.conns))
	for _, bc := range c.conns {
		conns = append(conns, bc)
	}
	c.conns = map[string]*bookieConn{}
	c.mu.Unlock()
	for _, bc := range conns {
		bc.close()
	}
	return nil
}

// conn returns the connection to a bookie, creating it (without I/O) on first use.
func (c *Client) conn(id string) (*bookieConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClientClosed
	}
	if bc, ok := c.conns[id]; ok {
		return bc, nil
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
		grpc.WithResolvers(c.resolver),
		// Read answers are megabytes: gRPC's default pool would zero each buffer.
		experimental.WithBufferPool(grpcbuf.New()),
	}
	opts = append(opts, c.cfg.DialOptions...)
	cc, err := grpc.NewClient(resolverScheme+":///"+id, opts...)
	if err != nil {
		return nil, fmt.Errorf("ledger: bookie %s: %w", id, err)
	}
	bc := &bookieConn{id: id, cc: cc, rpc: bookiev1.NewBookieClient(cc), logger: c.logger,
		kick: func() { c.resolver.kick(id) }}
	c.conns[id] = bc
	return bc, nil
}

// unary makes one unary call to a bookie under ReadTimeout (plus extra). If the bookie
// was unreachable but the registry says it is up — it restarted, perhaps on another
// address — the call is made once more, after pointing the channel at the registered
// address and cutting its reconnect backoff short.
//
// After the channel was pointed at a new address, that retry waits (within its timeout)
// for the channel to connect: gRPC's pick_first keeps reporting the old address's
// TRANSIENT_FAILURE until a connection is READY (gRFC A62), so a fail-fast retry would
// fail at once with the old address's error. Each new address gets that patience once;
// a bookie still registered at an address already tried (a dead bookie whose lease has
// not expired) is retried fail-fast and costs no wait.
func (c *Client) unary(ctx context.Context, bookie string, extra time.Duration, call func(context.Context, bookiev1.BookieClient) error) error {
	bc, err := c.conn(bookie)
	if err != nil {
		return err
	}
	rpc, patientFor := bc.rpc, uint64(0)
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, c.cfg.ReadTimeout+extra)
		err = call(cctx, rpc)
		cancel()
		if patientFor != 0 {
			bc.settledMoves.Store(patientFor)
		}
		if err == nil || attempt > 0 || !isUnreachable(err) || ctx.Err() != nil {
			return err
		}
		if !c.resolver.refresh(ctx, bookie) {
			return err
		}
		if m := c.resolver.moves(bookie); m != bc.settledMoves.Load() {
			rpc, patientFor = bookiev1.NewBookieClient(waitForReady{bc.cc}), m
		}
		bc.cc.ResetConnectBackoff()
	}
}

// waitForReady makes every call on cc wait for the channel to be ready (within the
// call's deadline) instead of failing fast.
type waitForReady struct{ cc grpc.ClientConnInterface }

func (w waitForReady) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return w.cc.Invoke(ctx, method, args, reply, append(opts[:len(opts):len(opts)], grpc.WaitForReady(true))...)
}

func (w waitForReady) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return w.cc.NewStream(ctx, desc, method, append(opts[:len(opts):len(opts)], grpc.WaitForReady(true))...)
}

func (c *Client) addWriter(w *Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClientClosed
	}
	c.writers[w] = struct{}{}
	return nil
}

func (c *Client) removeWriter(w *Writer) {
	c.mu.Lock()
	delete(c.writers, w)
	c.mu.Unlock()
}

// CreateOptions describe a new ledger.
type CreateOptions struct {
	EnsembleSize int // E: bookies the ledger is striped over
	WriteQuorum  int // Qw: copies of each entry
	AckQuorum    int // Qa: copies that must be durable before an entry is acknowledged
	// Custom annotations stored with the metadata (e.g. the owning topic).
	Custom map[string]string
}

// Create places a new ledger on E writable bookies chosen at random, records its
// metadata (state OPEN) in etcd and returns its writer.
func (c *Client) Create(ctx context.Context, opts CreateOptions) (*Writer, error) {
	if opts.AckQuorum < 1 || opts.WriteQuorum < opts.AckQuorum || opts.EnsembleSize < opts.WriteQuorum {
		return nil, fmt.Errorf("%w: need E >= Qw >= Qa >= 1, got E=%d Qw=%d Qa=%d",
			ErrBadQuorum, opts.EnsembleSize, opts.WriteQuorum, opts.AckQuorum)
	}
	writable, err := c.reg.Writable(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: create: %w", err)
	}
	ens := c.pick(writable, opts.EnsembleSize, nil)
	if len(ens) < opts.EnsembleSize {
		return nil, fmt.Errorf("%w: ensemble of %d, %d writable bookies", ErrNotEnoughBookies, opts.EnsembleSize, len(writable))
	}
	id, err := c.store.NextID(ctx, "ledgers")
	if err != nil {
		return nil, fmt.Errorf("ledger: create: %w", err)
	}
	m := &Metadata{
		FormatVersion:     MetadataFormatVersion,
		ID:                id,
		EnsembleSize:      opts.EnsembleSize,
		WriteQuorum:       opts.WriteQuorum,
		AckQuorum:         opts.AckQuorum,
		State:             StateOpen,
		LastEntry:         -1,
		Fragments:         []Fragment{{FirstEntry: 0, Ensemble: ens}},
		CreatedUnixMillis: time.Now().UnixMilli(),
		Custom:            opts.Custom,
	}
	m = m.Clone() // own Custom
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	rev, err := c.store.Create(ctx, c.store.Keys.Ledger(id), data)
	if err != nil {
		return nil, ledgerErr(id, err)
	}
	return c.startWriter(m, rev)
}

// pick chooses up to n bookies from candidates, excluding some, at random.
func (c *Client) pick(candidates []registry.Info, n int, exclude []string) []string {
	var ids []string
	for _, in := range candidates {
		if !slices.Contains(exclude, in.ID) {
			ids = append(ids, in.ID)
		}
	}
	c.mu.Lock()
	c.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	c.mu.Unlock()
	if len(ids) > n {
		ids = ids[:n]
	}
	return ids
}

// readMeta reads a ledger's metadata and its revision.
func (c *Client) readMeta(ctx context.Context, id int64) (*Metadata, int64, error) {
	v, err := c.store.Get(ctx, c.store.Keys.Ledger(id))
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, 0, ledgerErr(id, ErrNoSuchLedger)
	}
	if err != nil {
		return nil, 0, ledgerErr(id, err)
	}
	m, err := UnmarshalMetadata(v.Data)
	if err != nil {
		return nil, 0, ledgerErr(id, err)
	}
	return m, v.ModRevision, nil
}

// casMeta writes m if the metadata is still at rev and returns the new revision.
func (c *Client) casMeta(ctx context.Context, m *Metadata, rev int64) (int64, error) {
	data, err := m.Marshal()
	if err != nil {
		return 0, err
	}
	return c.store.CAS(ctx, c.store.Keys.Ledger(m.ID), data, rev)
}

// changeResult is the outcome of an ensemble change's CAS.
type changeResult struct {
	meta     *Metadata // committed (conflict=false) or current (conflict=true)
	rev      int64
	conflict bool
	err      error
}

// changeEnsemble staffs the failed positions with writable bookies outside the current
// ensemble — preferring ones not in avoid (bookies that already failed this ledger) —
// and CASes the new fragment.
func (c *Client) changeEnsemble(ctx context.Context, m *Metadata, rev int64, ch EnsembleChange, avoid []string) changeResult {
	writable, err := c.reg.Writable(ctx)
	if err != nil {
		return changeResult{err: err}
	}
	picks := c.pick(writable, len(ch.Replace), append(slices.Clone(ch.Ensemble), avoid...))
	if len(picks) < len(ch.Replace) {
		picks = c.pick(writable, len(ch.Replace), ch.Ensemble)
	}
	if len(picks) < len(ch.Replace) {
		return changeResult{err: fmt.Errorf("%w: %d replacement(s) needed outside ensemble %v, %d available",
			ErrNotEnoughBookies, len(ch.Replace), ch.Ensemble, len(picks))}
	}
	replace := map[int]string{}
	for i, r := range ch.Replace {
		replace[r.Position] = picks[i]
	}
	nm, err := m.WithEnsembleChange(ch.FirstEntry, replace)
	if err != nil {
		return changeResult{err: err}
	}
	newRev, err := c.casMeta(ctx, nm, rev)
	if err == nil {
		c.logger.Info("ensemble changed", "ledger", m.ID, "firstEntry", ch.FirstEntry, "replace", ch.Replace, "with", picks)
		return changeResult{meta: nm, rev: newRev}
	}
	if !errors.Is(err, metadata.ErrRevisionMismatch) {
		return changeResult{err: err}
	}
	cur, curRev, err := c.readMeta(ctx, m.ID)
	if err != nil {
		return changeResult{err: err}
	}
	return changeResult{meta: cur, rev: curRev, conflict: true}
}

// Delete removes a ledger: its entries from every bookie that ever stored a fragment
// (best effort: an unreachable bookie is logged and its copy stays there — bookies do
// not yet collect ledgers whose metadata is gone), then its metadata.
func (c *Client) Delete(ctx context.Context, id int64) error {
	m, rev, err := c.readMeta(ctx, id)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, b := range m.Bookies() {
		wg.Go(func() {
			err := c.unary(ctx, b, 0, func(ctx context.Context, rpc bookiev1.BookieClient) error {
				_, err := rpc.DeleteLedger(ctx, &bookiev1.DeleteLedgerRequest{LedgerId: uint64(id)})
				return err
			})
			if err != nil {
				c.logger.Warn("delete ledger on bookie failed", "ledger", id, "bookie", b, "err", err)
			}
		})
	}
	wg.Wait()
	if err := c.store.Delete(ctx, c.store.Keys.Ledger(id), rev); err != nil {
		return ledgerErr(id, err)
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
