package metadata

import "go.uber.org/zap"

// nopZap silences the etcd client's internal zap logger; Strata logs through slog.
func nopZap() *zap.Logger { return zap.NewNop() }
