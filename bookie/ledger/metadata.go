package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
)

// State is a ledger's lifecycle state. It only moves forward:
// OPEN → IN_RECOVERY → CLOSED, or OPEN → CLOSED.
type State string

const (
	StateOpen       State = "OPEN"
	StateInRecovery State = "IN_RECOVERY"
	StateClosed     State = "CLOSED"
)

// Fragment is a run of entries stored on one ensemble: from FirstEntry up to the next
// fragment's FirstEntry (or the end of the ledger).
type Fragment struct {
	FirstEntry int64    `json:"firstEntry"`
	Ensemble   []string `json:"ensemble"` // bookie ids, by ensemble position
}

// MetadataFormatVersion is the version of the JSON below (docs/format/metadata.md).
const MetadataFormatVersion = 1

// Metadata is a ledger's record in etcd. Every change is a CAS on its etcd revision.
type Metadata struct {
	FormatVersion int   `json:"formatVersion"`
	ID            int64 `json:"id"`
	EnsembleSize  int   `json:"ensembleSize"`
	WriteQuorum   int   `json:"writeQuorum"`
	AckQuorum     int   `json:"ackQuorum"`
	State         State `json:"state"`
	// LastEntry is the final entry id once CLOSED (-1: the ledger is empty); meaningless
	// before.
	LastEntry int64 `json:"lastEntry"`
	// Length is the total payload bytes of entries 0..LastEntry once CLOSED.
	Length int64 `json:"length"`
	// LengthIsLowerBound marks a Length set by recovery: it counts only the entries
	// recovery read forward (after the highest LAC the bookies reported), because the
	// sizes of the entries before were never recorded anywhere recovery can see them
	// without re-reading the whole ledger. Exact when the writer closed the ledger.
	LengthIsLowerBound bool       `json:"lengthIsLowerBound,omitempty"`
	Fragments          []Fragment `json:"fragments"`
	// CreatedUnixMillis is when the ledger was created (for age-based rollover/retention).
	CreatedUnixMillis int64 `json:"createdUnixMillis"`
	// Custom carries the owner's annotations (e.g. the topic a ledger belongs to).
	Custom map[string]string `json:"custom,omitempty"`
}

// Validate checks the structural invariants: E ≥ Qw ≥ Qa ≥ 1, fragments ordered and each
// with E distinct bookies.
func (m *Metadata) Validate() error {
	if m.AckQuorum < 1 || m.WriteQuorum < m.AckQuorum || m.EnsembleSize < m.WriteQuorum {
		return fmt.Errorf("%w: need E >= Qw >= Qa >= 1, got E=%d Qw=%d Qa=%d",
			ErrBadQuorum, m.EnsembleSize, m.WriteQuorum, m.AckQuorum)
	}
	if len(m.Fragments) == 0 {
		return errors.New("ledger: metadata has no fragments")
	}
	for i, f := range m.Fragments {
		if len(f.Ensemble) != m.EnsembleSize {
			return fmt.Errorf("ledger: fragment %d has %d bookies, want %d", i, len(f.Ensemble), m.EnsembleSize)
		}
		if i == 0 && f.FirstEntry != 0 {
			return fmt.Errorf("ledger: first fragment starts at %d", f.FirstEntry)
		}
		if i > 0 && f.FirstEntry < m.Fragments[i-1].FirstEntry {
			return fmt.Errorf("ledger: fragment %d starts before fragment %d", i, i-1)
		}
		seen := map[string]bool{}
		for _, b := range f.Ensemble {
			if seen[b] {
				return fmt.Errorf("ledger: fragment %d lists bookie %s twice", i, b)
			}
			seen[b] = true
		}
	}
	switch m.State {
	case StateOpen, StateInRecovery, StateClosed:
	default:
		return fmt.Errorf("ledger: unknown state %q", m.State)
	}
	return nil
}

// FragmentFor returns the fragment that stores entry e.
func (m *Metadata) FragmentFor(e int64) Fragment {
	f := m.Fragments[0]
	for _, g := range m.Fragments[1:] {
		if g.FirstEntry > e {
			break
		}
		f = g
	}
	return f
}

// LastFragment returns the fragment new entries are written to.
func (m *Metadata) LastFragment() Fragment { return m.Fragments[len(m.Fragments)-1] }

// WithEnsembleChange returns a copy of m in which entries from first on are stored on
// the last ensemble with the bookies at the given positions replaced. When the last
// fragment already starts at first (an earlier change wrote nothing acknowledged to it),
// that fragment is rewritten in place instead of adding an empty one.
func (m *Metadata) WithEnsembleChange(first int64, replace map[int]string) (*Metadata, error) {
	last := m.LastFragment()
	if first < last.FirstEntry {
		return nil, fmt.Errorf("ledger: ensemble change at entry %d before the last fragment (%d)", first, last.FirstEntry)
	}
	ens := append([]string(nil), last.Ensemble...)
	for p, b := range replace {
		if p < 0 || p >= len(ens) {
			return nil, fmt.Errorf("ledger: ensemble position %d out of range", p)
		}
		ens[p] = b
	}
	c := m.Clone()
	if first == last.FirstEntry {
		c.Fragments[len(c.Fragments)-1].Ensemble = ens
	} else {
		c.Fragments = append(c.Fragments, Fragment{FirstEntry: first, Ensemble: ens})
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Bookies returns every distinct bookie that stores some fragment, in first-seen order.
func (m *Metadata) Bookies() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range m.Fragments {
		for _, b := range f.Ensemble {
			if !seen[b] {
				seen[b] = true
				out = append(out, b)
			}
		}
	}
	return out
}

// WriteSet returns the ensemble positions that store entry e: Qw consecutive positions
// starting at e mod E (BookKeeper's round-robin striping).
func WriteSet(e int64, ensembleSize, writeQuorum int) []int {
	ws := make([]int, writeQuorum)
	for i := range ws {
		ws[i] = int((e + int64(i)) % int64(ensembleSize))
	}
	return ws
}

// WriteSetBookies returns the bookie ids that store entry e.
func (m *Metadata) WriteSetBookies(e int64) []string {
	ens := m.FragmentFor(e).Ensemble
	ws := WriteSet(e, m.EnsembleSize, m.WriteQuorum)
	out := make([]string, len(ws))
	for i, p := range ws {
		out[i] = ens[p]
	}
	return out
}

// Marshal encodes the record for etcd.
func (m *Metadata) Marshal() ([]byte, error) {
	m.FormatVersion = MetadataFormatVersion
	return json.Marshal(m)
}

// UnmarshalMetadata decodes and validates a record read from etcd.
func UnmarshalMetadata(data []byte) (*Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("ledger: bad metadata: %w", err)
	}
	if m.FormatVersion != MetadataFormatVersion {
		return nil, fmt.Errorf("ledger: metadata format version %d, this build reads %d", m.FormatVersion, MetadataFormatVersion)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Clone returns a deep copy, for building a CAS update without touching the original.
func (m *Metadata) Clone() *Metadata {
	c := *m
	c.Fragments = make([]Fragment, len(m.Fragments))
	for i, f := range m.Fragments {
		c.Fragments[i] = Fragment{FirstEntry: f.FirstEntry, Ensemble: append([]string(nil), f.Ensemble...)}
	}
	if m.Custom != nil {
		c.Custom = make(map[string]string, len(m.Custom))
		for k, v := range m.Custom {
			c.Custom[k] = v
		}
	}
	return &c
}

// ErrBadQuorum: E ≥ Qw ≥ Qa ≥ 1 does not hold.
var ErrBadQuorum = errors.New("ledger: invalid quorum sizes")
