package service

import (
	"context"
	"time"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/topic"
)

// Tiered storage. The managed ledger offloads closed ledgers by itself, by the
// OffloadPolicy it is given; this file resolves that policy for a topic and serves the
// admin calls (manual trigger, status, offloaded size).
//
// A topic's policy is resolved field by field (resources/offload.go): the topic's
// offload object, else its namespace's object, else the namespace's single values
// (offloadThreshold, offloadThresholdInSeconds, offloadDeletionLagMs), else the
// broker's defaults (Config.OffloadDefaults, from its flags). It is pushed into the
// managed ledger at open and on every policy change, like retention (policy.go).

// offloadPolicy is the managed-ledger offload policy of a topic whose effective
// policies (namespace record with the topic's overrides applied) are p.
func (s *Service) offloadPolicy(p resources.Policies) managedledger.OffloadPolicy {
	return resolveOffload(p.Offload(), *s.cfg.OffloadDefaults)
}

// resolveOffload fills what e leaves unset from the broker's defaults. The idle
// rollover is a broker setting only.
func resolveOffload(e resources.EffectiveOffload, def managedledger.OffloadPolicy) managedledger.OffloadPolicy {
	out := def
	if e.ThresholdBytes != nil {
		out.ThresholdBytes = *e.ThresholdBytes
	}
	if e.ThresholdSeconds != nil {
		out.ThresholdSeconds = *e.ThresholdSeconds
	}
	if e.DeletionLagMillis != nil {
		out.DeletionLag = time.Duration(*e.DeletionLagMillis) * time.Millisecond
	}
	switch e.ReadPriority {
	case resources.ReadPriorityBookkeeperFirst:
		out.BookkeeperFirst = true
	case resources.ReadPriorityTieredFirst:
		out.BookkeeperFirst = false
	}
	return out
}

// Offload starts offloading the topic's closed ledgers before before.Ledger (Pulsar's
// triggerOffload): managedledger.ErrOffloadRunning while one runs,
// managedledger.ErrOffloadDisabled when the broker has no store.
func (s *Service) Offload(ctx context.Context, name topic.Name, before managedledger.Position) error {
	t, err := s.Topic(ctx, name, false)
	if err != nil {
		return err
	}
	return t.ml.Offload(before)
}

// OffloadStatus is the state of the topic's last manual offload.
func (s *Service) OffloadStatus(ctx context.Context, name topic.Name) (managedledger.OffloadStatus, error) {
	t, err := s.Topic(ctx, name, false)
	if err != nil {
		return managedledger.OffloadStatus{}, err
	}
	return t.ml.OffloadStatus(), nil
}

// OffloadedSize is the bytes of the topic's ledgers whose offload is complete.
func (t *Topic) OffloadedSize() int64 { return t.ml.OffloadedSize() }
