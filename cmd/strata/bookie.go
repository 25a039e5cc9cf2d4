package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-io/strata/bookie"
	"github.com/strata-io/strata/bookie/autorecovery"
	"github.com/strata-io/strata/metadata"
)

func init() { subcommands = append(subcommands, bookieCommand) }

// bookieCommand is `strata bookie`: one storage node, until SIGINT or SIGTERM.
func bookieCommand() *cobra.Command {
	var (
		cfg       bookie.Config
		endpoints string
		etcdRoot  string
		logLevel  string
		pprofAddr string
		// ar: the auto-recovery worker candidate run next to the bookie.
		ar        autorecovery.Config
		runWorker bool
	)
	cmd := &cobra.Command{
		Use:   "bookie",
		Short: "Run a storage node (bookie)",
		Long: `Run a bookie: it stores ledger entries in Pebble under --data-dir, serves them over
gRPC on --listen, and registers itself in etcd. It runs until SIGINT or SIGTERM.

With --autorecovery (the default, like BookKeeper's autoRecoveryDaemonEnabled) the
process also runs an auto-recovery worker candidate: the elected one among all bookies
re-replicates the fragments of lost and decommissioned bookies.

Once serving it prints one line to stderr:  bookie <id> listening on <addr>`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			if err := startPprof(pprofAddr, cfg.Logger); err != nil {
				return err
			}
			cfg.Etcd = metadata.Config{Endpoints: splitEndpoints(endpoints), Root: etcdRoot}
			cfg.Metrics = newRegistry()
			// One etcd connection for the bookie and the worker.
			store, err := metadata.Open(cfg.Etcd)
			if err != nil {
				return fmt.Errorf("bookie: %w", err)
			}
			defer store.Close()
			cfg.Metadata = store

			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			b, err := bookie.Start(ctx, cfg)
			if err != nil {
				return err
			}
			var worker *autorecovery.Worker
			if runWorker {
				ar.Store, ar.ID, ar.Metrics = store, b.ID(), cfg.Metrics
				explicitZeroDelays(&ar)
				ar.Logger = cfg.Logger.With("bookie", b.ID())
				ar.LeaseTTL = cfg.LeaseTTL
				if worker, err = autorecovery.Start(ar); err != nil {
					b.Close()
					return err
				}
			}
			fmt.Fprintf(os.Stderr, "bookie %s listening on %s\n", b.ID(), b.Addr())
			<-ctx.Done()
			cfg.Logger.Info("bookie: signal received; shutting down")
			if worker != nil {
				worker.Close() // steps down first, so another candidate takes over at once
			}
			return b.Close()
		},
	}
	addPprofFlag(cmd, &pprofAddr)
	f := cmd.Flags()
	f.StringVar(&endpoints, "etcd", "http://127.0.0.1:2379", "etcd endpoints, comma-separated")
	f.StringVar(&etcdRoot, "etcd-root", metadata.DefaultRoot, "prefix of all of Strata's keys in etcd")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the cookie and the entry store (required)")
	f.StringVar(&cfg.JournalDir, "journal-dir", "", "directory for the store's write-ahead log, ideally on its own disk (default: inside --data-dir); once used, always pass the same")
	f.StringVar(&cfg.ListenAddr, "listen", bookie.DefaultListenAddr, "gRPC listen address (port 0 picks one)")
	f.StringVar(&cfg.AdvertisedAddr, "advertised-address", "", "address clients dial (default: the listen address)")
	f.StringVar(&cfg.ID, "id", "", "bookie id in etcd (default: the advertised address)")
	f.StringVar(&cfg.HTTPAddr, "http", "", "HTTP address for /health and /metrics (default: none)")
	f.IntVar(&cfg.MaxEntrySize, "max-entry-size", 0, "largest entry accepted, bytes (default 5 MiB + 64 KiB)")
	f.Float64Var(&cfg.DiskUsageThreshold, "disk-threshold", 0.95, "disk usage fraction at which the bookie turns read-only")
	f.Float64Var(&cfg.DiskUsageLowWater, "disk-lwm", 0, "disk usage fraction below which a read-only bookie turns read-write (default min(0.90, --disk-threshold))")
	f.BoolVar(&cfg.ForceReadOnly, "read-only", false, "refuse new entries whatever the disk usage (reads, fencing and recovery still served)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 0, "registration lease TTL (default 10s)")
	f.DurationVar(&cfg.DiskCheckInterval, "disk-check-interval", 0, "how often to check disk usage (default 10s)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	autoRecoveryFlags(f, &runWorker, &ar)
	cmd.MarkFlagRequired("data-dir")
	return cmd
}

func splitEndpoints(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// autoRecoveryFlags are the auto-recovery worker's settings (BookKeeper's
// autoRecoveryDaemonEnabled, lostBookieRecoveryDelay, openLedgerRereplicationGracePeriod).
func autoRecoveryFlags(f *pflag.FlagSet, run *bool, cfg *autorecovery.Config) {
	f.BoolVar(run, "autorecovery", true, "run an auto-recovery worker candidate in this process")
	f.DurationVar(&cfg.LostBookieRecoveryDelay, "lost-bookie-recovery-delay", autorecovery.DefaultLostBookieRecoveryDelay,
		"how long a bookie must be gone before its fragments are re-replicated")
	f.DurationVar(&cfg.OpenLedgerRereplicationGracePeriod, "open-ledger-rereplication-grace-period", autorecovery.DefaultOpenLedgerRereplicationGracePeriod,
		"how long an open ledger's writer gets to replace a lost bookie itself before auto-recovery fences the ledger")
}

// explicitZeroDelays makes a flag given as 0 mean no delay (in Config, 0 is "default").
func explicitZeroDelays(cfg *autorecovery.Config) {
	if cfg.LostBookieRecoveryDelay == 0 {
		cfg.LostBookieRecoveryDelay = -1
	}
	if cfg.OpenLedgerRereplicationGracePeriod == 0 {
		cfg.OpenLedgerRereplicationGracePeriod = -1
	}
}
