package managedledger

import (
	"encoding/json"
	"fmt"
)

// InfoFormatVersion is the version of the managed-ledger record (docs/format/metadata.md).
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
}

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
	c.Ledgers = append([]LedgerInfo(nil), in.Ledgers...)
	if in.Properties != nil {
		c.Properties = make(map[string]string, len(in.Properties))
		for k, v := range in.Properties {
			c.Properties[k] = v
		}
	}
	return &c
}
