package ownership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// A namespace's topics are split into bundles: ranges of the 32-bit hash of the full
// topic name (CRC32, IEEE polynomial — Pulsar's default bundle hash). The unit of
// ownership is the bundle, not the topic, so that a broker claims and moves topics in
// groups and a lookup costs one etcd read whatever the number of topics.

// hashSpace is one past the largest hash: bundles cover [0, hashSpace).
const hashSpace = uint64(1) << 32

// Bundle is one hash range [Lo, Hi) of a namespace. The last bundle of a namespace
// ends at hashSpace; its name says 0xffffffff, as Pulsar's does.
type Bundle struct {
	Namespace string // tenant/namespace
	Lo, Hi    uint64
}

// Range is the bundle's name within its namespace, e.g. "0x40000000_0x80000000".
func (b Bundle) Range() string { return boundary(b.Lo) + "_" + boundary(b.Hi) }

// String is namespace/range, as Pulsar prints a bundle.
func (b Bundle) String() string { return b.Namespace + "/" + b.Range() }

// Contains reports whether a hash falls in the bundle.
func (b Bundle) Contains(h uint32) bool { return uint64(h) >= b.Lo && uint64(h) < b.Hi }

func boundary(v uint64) string {
	if v >= hashSpace {
		v = hashSpace - 1
	}
	return fmt.Sprintf("0x%08x", v)
}

func parseBoundary(s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 64)
	if err != nil || !strings.HasPrefix(strings.ToLower(s), "0x") || v >= hashSpace {
		return 0, fmt.Errorf("%w: bad bundle boundary %q", ErrBadBundle, s)
	}
	return v, nil
}

// Hash is the bundle hash of a topic (partitions hash separately).
func Hash(name topic.Name) uint32 { return crc32.ChecksumIEEE([]byte(name.String())) }

// ErrBadBundle: a bundle name that is not a current bundle of its namespace.
var ErrBadBundle = errors.New("ownership: no such bundle")

// Bundles is a namespace's split into bundles, in Pulsar's BundlesData JSON shape:
// boundaries ascending from 0x00000000 to 0xffffffff, numBundles = len(boundaries)-1.
type Bundles struct {
	Boundaries []string `json:"boundaries"`
	NumBundles int      `json:"numBundles"`
}

// EvenBundles splits the hash space into n equal bundles.
func EvenBundles(n int) Bundles {
	if n < 1 {
		n = 1
	}
	out := Bundles{NumBundles: n}
	for i := 0; i <= n; i++ {
		out.Boundaries = append(out.Boundaries, boundary(hashSpace*uint64(i)/uint64(n)))
	}
	return out
}

// list returns the bundles of namespace ns.
func (bs Bundles) list(ns string) ([]Bundle, error) {
	if len(bs.Boundaries) < 2 {
		return nil, fmt.Errorf("%w: namespace %s has %d boundaries", ErrBadBundle, ns, len(bs.Boundaries))
	}
	out := make([]Bundle, 0, len(bs.Boundaries)-1)
	prev, err := parseBoundary(bs.Boundaries[0])
	if err != nil {
		return nil, err
	}
	if prev != 0 {
		return nil, fmt.Errorf("%w: first boundary of %s is %s", ErrBadBundle, ns, bs.Boundaries[0])
	}
	for i, s := range bs.Boundaries[1:] {
		v, err := parseBoundary(s)
		if err != nil {
			return nil, err
		}
		if i == len(bs.Boundaries)-2 {
			if v != hashSpace-1 {
				return nil, fmt.Errorf("%w: last boundary of %s is %s", ErrBadBundle, ns, s)
			}
			v = hashSpace
		}
		if v <= prev {
			return nil, fmt.Errorf("%w: boundaries of %s are not ascending", ErrBadBundle, ns)
		}
		out = append(out, Bundle{Namespace: ns, Lo: prev, Hi: v})
		prev = v
	}
	return out, nil
}

// split returns bs with bundle b cut in two at its midpoint.
func (bs Bundles) split(ns string, b Bundle) (Bundles, error) {
	list, err := bs.list(ns)
	if err != nil {
		return bs, err
	}
	if b.Hi-b.Lo < 2 {
		return bs, fmt.Errorf("%w: bundle %s is too small to split", ErrBadBundle, b)
	}
	out := Bundles{}
	for _, x := range list {
		out.Boundaries = append(out.Boundaries, boundary(x.Lo))
		if x == b {
			out.Boundaries = append(out.Boundaries, boundary(x.Lo+(x.Hi-x.Lo)/2))
		}
	}
	out.Boundaries = append(out.Boundaries, boundary(hashSpace))
	out.NumBundles = len(out.Boundaries) - 1
	if out.NumBundles == len(list) {
		return bs, fmt.Errorf("%w: %s", ErrBadBundle, b)
	}
	return out, nil
}

// bundlesKey is where a namespace's split is recorded; absent means the default even
// split.
func bundlesKey(s *metadata.Store, ns string) string { return s.Keys.NamespaceBundles(ns) }

// NamespaceBundles returns a namespace's bundles and the revision of their record (0:
// none written yet; the default split applies).
func (m *Manager) NamespaceBundles(ctx context.Context, ns string) (Bundles, int64, error) {
	v, err := m.store.Get(ctx, bundlesKey(m.store, ns))
	if errors.Is(err, metadata.ErrNotFound) {
		return EvenBundles(m.cfg.DefaultBundles), 0, nil
	}
	if err != nil {
		return Bundles{}, 0, err
	}
	var bs Bundles
	if err := json.Unmarshal(v.Data, &bs); err != nil {
		return Bundles{}, 0, fmt.Errorf("ownership: bundles of %s: %w", ns, err)
	}
	return bs, v.ModRevision, nil
}

// BundleOf returns the bundle that holds a topic.
func (m *Manager) BundleOf(ctx context.Context, name topic.Name) (Bundle, error) {
	ns := name.NamespaceName()
	list, err := m.List(ctx, ns)
	if err != nil {
		return Bundle{}, err
	}
	h := Hash(name)
	for _, b := range list {
		if b.Contains(h) {
			return b, nil
		}
	}
	return Bundle{}, fmt.Errorf("%w: no bundle of %s holds hash %#x", ErrBadBundle, ns, h)
}

// List returns the current bundles of namespace ns, in hash order.
func (m *Manager) List(ctx context.Context, ns string) ([]Bundle, error) {
	bs, _, err := m.NamespaceBundles(ctx, ns)
	if err != nil {
		return nil, err
	}
	return bs.list(ns)
}

// ParseBundle finds the current bundle of ns named by rng ("0x..._0x...").
func (m *Manager) ParseBundle(ctx context.Context, ns, rng string) (Bundle, error) {
	list, err := m.List(ctx, ns)
	if err != nil {
		return Bundle{}, err
	}
	for _, b := range list {
		if b.Range() == strings.ToLower(rng) {
			return b, nil
		}
	}
	return Bundle{}, fmt.Errorf("%w: %s/%s", ErrBadBundle, ns, rng)
}
