package dispatch

import "fmt"

// ConsumerInfo describes a consumer as SUBSCRIBE declares it.
type ConsumerInfo struct {
	// ID identifies the consumer within the dispatcher. Pulsar consumer ids are
	// per connection, so the driver must make them unique per subscription
	// (for example by mapping (connection, consumer_id) to a counter).
	ID uint64

	// Name is consumer_name; Failover orders consumers by it.
	Name string

	// Priority is priority_level: 0 is the highest. Failover picks among the
	// highest-priority consumers only; Shared serves higher priorities first.
	Priority int32

	// KeyShared is keySharedMeta; nil means AUTO_SPLIT. Only Key_Shared reads it.
	KeyShared *KeySharedMeta
}

// KeySharedMode is keySharedMeta.keySharedMode.
type KeySharedMode int

const (
	// AutoSplit lets the dispatcher split the hash space between consumers.
	AutoSplit KeySharedMode = 0
	// Sticky has each consumer declare the hash ranges it serves.
	Sticky KeySharedMode = 1
)

func (m KeySharedMode) String() string {
	switch m {
	case AutoSplit:
		return "AUTO_SPLIT"
	case Sticky:
		return "STICKY"
	}
	return fmt.Sprintf("KeySharedMode(%d)", int(m))
}

// KeySharedMeta is the Key_Shared policy a consumer subscribes with.
type KeySharedMeta struct {
	Mode KeySharedMode
	// Ranges are the hash ranges a STICKY consumer serves; ignored for AUTO_SPLIT.
	Ranges []Range
	// AllowOutOfOrderDelivery is accepted and ignored: Strata always keeps the
	// ordering contract, which is a valid (stricter) behaviour for such consumers.
	AllowOutOfOrderDelivery bool
}

// Range is an inclusive range of sticky-key hashes, Start ≤ End, both within
// 0..65535. The fields are int32 as on the wire, so the dispatcher can reject
// a bad range itself.
type Range struct {
	Start, End int32
}

func (r Range) String() string { return fmt.Sprintf("[%d,%d]", r.Start, r.End) }

// hashSpace is the number of sticky-key hashes: keys hash into 0..hashSpace-1.
const hashSpace = 65536
