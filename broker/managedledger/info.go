package managedledger

import (
	"encoding/json"
	"fmt"
)

// InfoFormatVersion is the version of the managed-ledger record
// (docs/format/managedledger.md). Optional fields added since (Offload) leave it at 1:
// a record without them is byte for byte what version 1 wrote.
const InfoFormatVersion = 1

// LedgerInfo describes one ledger of a topic.
type LedgerInfo struct {
	ID int64 `json:"id"`
	// Entries and Size are final once the ledger is closed; for the open (last) ledger
	// they are only what was known when the record was written.
	Entries       int64 `json:"entries"`
	Size          int64 `json:"size"`
	CreatedMillis int64 `json:"createdMillis"`
	Closed        bool  `json:"closed,omitempty"`
	// Offload is set once the ledger's entries are being, or have been, copied to tiered
	// storage; nil for a ledger only on its bookies (every ledger of a v1 record).
	// Invariant: only a closed ledger is offloaded.
	Offload *OffloadState `json:"offload,omitempty"`
}

// clone returns a copy of li that shares nothing with it.
func (li LedgerInfo) clone() LedgerInfo {
	if li.Offload != nil {
		o := *li.Offload
		li.Offload = &o
	}
	return li
}

// OffloadPhase is how far a ledger's offload got.
type OffloadPhase string

const (
	// OffloadBegun: the copy to tiered storage started (an offloader may have died in
	// it); the bookies are still the ledger's only complete copy.
	OffloadBegun OffloadPhase = "begun"
	// OffloadComplete: the object store holds the whole ledger; its entries may be read
	// from there and the bookies' copy may be deleted.
	OffloadComplete OffloadPhase = "complete"
)

// OffloadState records a ledger's copy in tiered storage.
type OffloadState struct {
	// UUID names this offload attempt; the objects of the copy are named after it, so
	// a retried offload never mixes with a dead attempt's objects.
	UUID string `json:"uuid"`
	// Driver is the object store's kind or configured name (e.g. "s3", "filesystem").
	Driver string `json:"driver"`
	// Bucket and Prefix locate the objects in the store.
	Bucket string `json:"bucket,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	// BeginMillis and CompleteMillis (0 until complete) are Unix milliseconds.
	BeginMillis    int64        `json:"beginMillis"`
	CompleteMillis int64        `json:"completeMillis,omitempty"`
	State          OffloadPhase `json:"state"`
	// BookieDeleted: the deletion lag passed and the bookies' copy is deleted (or being
	// deleted); from then on the ledger is read from the object store only. Recorded
	// before the bookie ledger is deleted.
	BookieDeleted bool `json:"bookieDeleted,omitempty"`
}

// Complete reports whether o records a finished offload (false for nil).
func (o *OffloadState) Complete() bool { return o != nil && o.State == OffloadComplete }

// Info is a managed ledger's record in etcd: the ordered list of its ledgers.
// Invariant: ledger ids increase along the list. The last ledger is the owner's current
// one; a ledger before it may still be open while a rollover closes it in the
// background (or if closing it failed): the next owner recovers every ledger not
// marked closed.
type Info struct {
	FormatVersion int          `json:"formatVersion"`
	Ledgers       []LedgerInfo `json:"ledgers"`
	// Terminated: no more writes accepted (admin terminate).
	Terminated bool `json:"terminated,omitempty"`
	// Properties are the owner's annotations (e.g. the partitioned-topic parent).
	Properties map[string]string `json:"properties,omitempty"`
}

func (in *Info) marshal() ([]byte, error) {
	in.FormatVersion = InfoFormatVersion
	return json.Marshal(in)
}

func unmarshalInfo(b []byte) (*Info, error) {
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("managedledger: bad record: %w", err)
	}
	if in.FormatVersion != InfoFormatVersion {
		return nil, fmt.Errorf("managedledger: record format version %d, this build reads %d", in.FormatVersion, InfoFormatVersion)
	}
	for i := 1; i < len(in.Ledgers); i++ {
		if in.Ledgers[i].ID <= in.Ledgers[i-1].ID {
			return nil, fmt.Errorf("managedledger: ledger ids out of order at %d", i)
		}
	}
	return &in, nil
}

func (in *Info) clone() *Info {
	c := *in
	if len(in.Ledgers) > 0 { // like append(nil, ...): an empty list clones to nil
		c.Ledgers = make([]LedgerInfo, len(in.Ledgers))
		for i, li := range in.Ledgers {
			c.Ledgers[i] = li.clone()
		}
	}
	if in.Properties != nil {
		c.Properties = make(map[string]string, len(in.Properties))
		for k, v := range in.Properties {
			c.Properties[k] = v
		}
	}
	return &c
}
