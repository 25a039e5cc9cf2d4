package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-io/strata/bookie"
	"github.com/strata-io/strata/bookie/autorecovery"
	"github.com/strata-io/strata/broker"
	"github.com/strata-io/strata/metadata"
)

func init() { subcommands = append(subcommands, standaloneCommand, brokerCommand) }

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// standaloneCommand is `strata standalone`: embedded etcd, one bookie and one broker in
// one process. The bookie is reached over gRPC on loopback, exactly as in a cluster.
func standaloneCommand() *cobra.Command {
	var (
		dataDir, listen, httpAddr, etcdListen, advertised, logLevel, pprofAddr string
		clusterName                                                            string
		// pol: the policy-check intervals and ledger rollover (tests make them short).
		pol broker.Config
		// ar, runAR: the auto-recovery worker candidate (as in `strata bookie`).
		ar    autorecovery.Config
		runAR bool
		off   offloadFlags
	)
	cmd := &cobra.Command{
		Use:   "standalone",
		Short: "Run etcd, a bookie and a broker in one process",
		Long: `Run a whole Strata in one process: an embedded etcd, one bookie and one broker,
with all data under --data-dir. Pulsar clients connect to pulsar://localhost:6650.

Once serving it prints one line to stderr:  strata standalone ready ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			if err := startPprof(pprofAddr, log); err != nil {
				return err
			}
			offload, err := off.config(dataDir)
			if err != nil {
				return err
			}
			if err := checkClusterName(clusterName); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			etcd, err := metadata.StartEmbedded(metadata.EmbeddedConfig{
				Dir:       filepath.Join(dataDir, "etcd"),
				ClientURL: "http://" + etcdListen,
			})
			if err != nil {
				return err
			}
			defer etcd.Close()
			store, err := metadata.Open(metadata.Config{Endpoints: []string{etcd.Endpoint()}})
			if err != nil {
				return err
			}
			defer store.Close()
			// One registry: the bookie's series are served on the broker's /metrics.
			reg := newRegistry()
			bk, err := bookie.Start(ctx, bookie.Config{
				ID:         "standalone-bookie",
				DataDir:    filepath.Join(dataDir, "bookie"),
				ListenAddr: "127.0.0.1:0",
				Metadata:   store,
				// One process: the lease only guards against this process dying, and
				// then everything goes at once.
				Logger:  log.With("component", "bookie"),
				Metrics: reg,
			})
			if err != nil {
				return err
			}
			defer bk.Close()
			if runAR { // the same auto-recovery candidate as in a bookie process
				ar.Store, ar.ID, ar.Metrics = store, "standalone", reg
				ar.Logger = log.With("component", "autorecovery")
				explicitZeroDelays(&ar)
				arw, err := autorecovery.Start(ar)
				if err != nil {
					return err
				}
				defer arw.Close()
			}
			b, err := broker.Start(ctx, broker.Config{
				Store:          store,
				ListenAddr:     listen,
				HTTPAddr:       httpAddr,
				AdvertisedHost: advertised,
				Cluster:        clusterName,
				Logger:         log,
				Metrics:        reg,
				ManagedLedger:  pol.ManagedLedger,
				Offload:        offload,

				RetentionCheckInterval:     pol.RetentionCheckInterval,
				MessageExpiryCheckInterval: pol.MessageExpiryCheckInterval,
				BacklogQuotaCheckInterval:  pol.BacklogQuotaCheckInterval,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "strata standalone ready in %s: pulsar://%s, http://%s, etcd %s\n",
				time.Since(start).Round(time.Millisecond), b.Addr(), b.HTTPAddr(), etcd.Endpoint())
			<-ctx.Done()
			log.Info("signal received; shutting down")
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b.Close(cctx)
			return nil
		},
	}
	addPprofFlag(cmd, &pprofAddr)
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "data", "directory for all data (etcd, bookie, offloaded ledgers)")
	f.StringVar(&listen, "listen", "127.0.0.1:6650", "Pulsar protocol listen address")
	f.StringVar(&httpAddr, "http", "127.0.0.1:8080", "HTTP (admin REST, health, /metrics) listen address")
	f.StringVar(&etcdListen, "etcd-listen", "127.0.0.1:0", "embedded etcd client address (port 0 picks one)")
	f.StringVar(&advertised, "advertised-host", "", "host name clients are redirected to (default: the listen host)")
	f.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	f.StringVar(&clusterName, "cluster-name", "standalone", "this cluster's name (letters, digits, '-', '_')")
	policyFlags(f, &pol)
	autoRecoveryFlags(f, &runAR, &ar)
	addOffloadFlags(f, &off, true)
	return cmd
}

// policyFlags are the broker settings of namespace-policy enforcement (Pulsar's
// retentionCheckIntervalInSeconds, messageExpiryCheckIntervalInMinutes,
// backlogQuotaCheckIntervalInSeconds, managedLedgerMaxEntriesPerLedger).
func policyFlags(f *pflag.FlagSet, cfg *broker.Config) {
	f.DurationVar(&cfg.RetentionCheckInterval, "retention-check-interval", 120*time.Second, "how often retention is checked")
	f.DurationVar(&cfg.MessageExpiryCheckInterval, "message-expiry-check-interval", 5*time.Minute, "how often message TTL is checked")
	f.DurationVar(&cfg.BacklogQuotaCheckInterval, "backlog-quota-check-interval", 60*time.Second, "how often backlog quotas are checked")
	f.Int64Var(&cfg.ManagedLedger.MaxEntriesPerLedger, "max-entries-per-ledger", 50_000, "entries after which a topic rolls over to a new ledger")
}

// brokerCommand is `strata broker`: a broker against an external etcd and bookies.
func brokerCommand() *cobra.Command {
	var (
		endpoints, etcdRoot, logLevel, pprofAddr string
		cfg                                      broker.Config
		off                                      offloadFlags
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a broker (Pulsar protocol) against etcd and bookies",
		Long:  `Run a broker. Once serving it prints one line to stderr:  broker listening on <addr>`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			if err := startPprof(pprofAddr, log); err != nil {
				return err
			}
			if cfg.Offload, err = off.config(""); err != nil {
				return err
			}
			if err := checkClusterName(cfg.Cluster); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			store, err := metadata.Open(metadata.Config{Endpoints: splitEndpoints(endpoints), Root: etcdRoot})
			if err != nil {
				return err
			}
			defer store.Close()
			cfg.Store, cfg.Logger, cfg.Metrics = store, log, newRegistry()
			b, err := broker.Start(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "broker listening on %s (http %s)\n", b.Addr(), b.HTTPAddr())
			<-ctx.Done()
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b.Close(cctx)
			return nil
		},
	}
	addPprofFlag(cmd, &pprofAddr)
	f := cmd.Flags()
	f.StringVar(&endpoints, "etcd", "http://127.0.0.1:2379", "etcd endpoints, comma-separated")
	f.StringVar(&etcdRoot, "etcd-root", metadata.DefaultRoot, "prefix of all of Strata's keys in etcd")
	f.StringVar(&cfg.ListenAddr, "listen", "127.0.0.1:6650", "Pulsar protocol listen address")
	f.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8080", "HTTP listen address")
	f.StringVar(&cfg.AdvertisedHost, "advertised-host", "", "host clients connect to")
	f.StringVar(&cfg.AdvertisedAddress, "advertised-address", "", "host:port clients connect to (overrides --advertised-host; default the listen address)")
	f.StringVar(&cfg.BrokerID, "broker-id", "", "the broker's name in etcd (default the advertised host:port)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 10*time.Second, "TTL of the broker's etcd session; a dead broker's topics move after about this long")
	f.IntVar(&cfg.DefaultBundles, "default-bundles", 4, "bundles of a namespace that was never split")
	addClusterNameFlag(f, &cfg.Cluster)
	f.IntVar(&cfg.ManagedLedger.EnsembleSize, "ensemble-size", 2, "bookies per new ledger (E)")
	f.IntVar(&cfg.ManagedLedger.WriteQuorum, "write-quorum", 2, "copies of each entry (Qw)")
	f.IntVar(&cfg.ManagedLedger.AckQuorum, "ack-quorum", 2, "acknowledgements before an entry is durable (Qa)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	policyFlags(f, &cfg)
	addOffloadFlags(f, &off, false)
	return cmd
}
