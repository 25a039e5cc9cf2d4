package metadata

import (
	"fmt"
	"strconv"
	"strings"
)

// Keys builds every key Strata writes. The layout is docs/format/metadata.md; change
// one only together with that document (and a migration).
type Keys struct{ root string }

// Root is the prefix all keys share.
func (k Keys) Root() string { return k.root }

// IDGen is the key whose revisions generate ids of one kind (e.g. "ledgers").
func (k Keys) IDGen(name string) string { return k.root + "/idgen/" + name }

// Cookie holds a bookie's instance id, written on first start (create-if-absent).
func (k Keys) Cookie(bookieID string) string { return k.root + "/bookies/cookies/" + bookieID }

// BookiesAvailable is the prefix under which live bookies register (under a lease).
func (k Keys) BookiesAvailable() string { return k.root + "/bookies/available/" }

// BookieAvailable is one live bookie's registration. readOnly bookies register under a
// separate prefix so writers choosing ensembles list only the read-write one.
func (k Keys) BookieAvailable(bookieID string, readOnly bool) string {
	if readOnly {
		return k.root + "/bookies/available/readonly/" + bookieID
	}
	return k.root + "/bookies/available/readwrite/" + bookieID
}

// BookiesReadWrite is the prefix of read-write registrations.
func (k Keys) BookiesReadWrite() string { return k.root + "/bookies/available/readwrite/" }

// BookiesReadOnly is the prefix of read-only registrations.
func (k Keys) BookiesReadOnly() string { return k.root + "/bookies/available/readonly/" }

// Ledgers is the prefix of all ledger metadata.
func (k Keys) Ledgers() string { return k.root + "/ledgers/" }

// Ledger is one ledger's metadata. The id is zero-padded to 19 digits so that key order
// is numeric order.
func (k Keys) Ledger(id int64) string { return fmt.Sprintf("%s/ledgers/%019d", k.root, id) }

// LedgerIDFromKey parses the id back out of a Ledger key.
func (k Keys) LedgerIDFromKey(key string) (int64, error) {
	s, ok := strings.CutPrefix(key, k.Ledgers())
	if !ok {
		return 0, fmt.Errorf("metadata: %q is not a ledger key", key)
	}
	return strconv.ParseInt(s, 10, 64)
}

// Under returns an arbitrary key below the root, for subsystems that own a subtree
// (e.g. Under("topics", tenant, ns, topic)). Parts must not contain "/" themselves
// unless the caller means a deeper path.
func (k Keys) Under(parts ...string) string {
	return k.root + "/" + strings.Join(parts, "/")
}
