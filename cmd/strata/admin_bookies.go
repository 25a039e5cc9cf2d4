package main

// `strata admin bookies underreplicated | decommission | cancel-decommission`: Strata's
// bookie maintenance endpoints (docs/admin.md), which pulsar-admin has no verbs for.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// ledgerList is GET /admin/v2/bookies/underreplicated.
type ledgerList struct {
	Ledgers []int64 `json:"ledgers"`
	Count   int     `json:"count"`
}

// decommissionState is GET /admin/v2/bookies/{bookie}/decommission.
type decommissionState struct {
	BookieID   string  `json:"bookieId"`
	Draining   bool    `json:"draining"`
	Registered bool    `json:"registered"`
	Ledgers    []int64 `json:"ledgers"`
	Count      int     `json:"count"`
	Done       bool    `json:"done"`
}

func decommissionPath(id string) string {
	return "/admin/v2/bookies/" + url.PathEscape(id) + "/decommission"
}

func underReplicatedVerb(env *adminEnv) *cobra.Command {
	return env.verb("underreplicated", "List the ledgers with a fragment on a bookie that is down (GET /admin/v2/bookies/underreplicated)",
		"  strata admin bookies underreplicated\n  strata admin bookies underreplicated -o json", nil,
		func(ctx context.Context, env *adminEnv, _ []string) error {
			var l ledgerList
			if err := env.rest.GetWithContext(ctx, "/admin/v2/bookies/underreplicated", &l); err != nil {
				return err
			}
			if env.output == "json" {
				return env.printJSON(l)
			}
			for _, id := range l.Ledgers { // in id order already
				fmt.Fprintln(env.out, strconv.FormatInt(id, 10))
			}
			return nil
		})
}

func decommissionVerb(env *adminEnv) *cobra.Command {
	var (
		wait        bool
		waitTimeout time.Duration
		interval    time.Duration
	)
	cmd := env.verb("decommission", "Move every ledger fragment off a bookie; report when none is left on it (then stop the bookie)",
		"  strata admin bookies decommission bookie-3\n  strata admin bookies decommission bookie-3 --wait=false",
		[]string{"BOOKIE_ID"},
		func(ctx context.Context, env *adminEnv, args []string) error {
			id := args[0]
			if err := env.rest.PostWithContext(ctx, decommissionPath(id), nil); err != nil {
				return err
			}
			if !wait {
				if env.output == "json" {
					return env.printJSON(map[string]any{"bookieId": id, "draining": true})
				}
				return env.printDone("bookie %s is draining; `strata admin bookies decommission %s` waits until it holds no ledger", id, id)
			}
			return env.waitDecommissioned(ctx, id, waitTimeout, interval)
		})
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", true, "wait until no ledger lists the bookie")
	f.DurationVar(&waitTimeout, "wait-timeout", 30*time.Minute, "give up waiting after this long (the decommission itself goes on)")
	f.DurationVar(&interval, "poll-interval", time.Second, "how often to ask for progress while waiting")
	return cmd
}

// waitDecommissioned polls the decommission's progress until no ledger lists the
// bookie, or waitTimeout. The wait is not bound by --request-timeout (each poll is).
func (env *adminEnv) waitDecommissioned(ctx context.Context, id string, waitTimeout, interval time.Duration) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), waitTimeout)
	defer cancel()
	wctx, stop := signal.NotifyContext(wctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tick := time.NewTicker(max(interval, 10*time.Millisecond))
	defer tick.Stop()
	last := -1
	for {
		var st decommissionState
		rctx, rcancel := context.WithTimeout(wctx, env.timeout)
		err := env.rest.GetWithContext(rctx, decommissionPath(id), &st)
		rcancel()
		if err != nil && wctx.Err() == nil {
			return err
		}
		if err == nil {
			if st.Done {
				if env.output == "json" {
					return env.printJSON(st)
				}
				return env.printDone("bookie %s decommissioned: no ledger lists it; it can be stopped", id)
			}
			if !st.Draining {
				return fmt.Errorf("bookie %s is not draining any more (the decommission was cancelled)", id)
			}
			if st.Count != last && env.output != "json" {
				fmt.Fprintf(env.out, "bookie %s: %d ledgers still list it\n", id, st.Count)
			}
			last = st.Count
		}
		select {
		case <-wctx.Done():
			if errors.Is(wctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("bookie %s still listed by %d ledgers after %s (--wait-timeout); the decommission goes on — run the command again to keep waiting",
					id, max(last, 0), waitTimeout)
			}
			return fmt.Errorf("interrupted; bookie %s is still draining", id)
		case <-tick.C:
		}
	}
}

func cancelDecommissionVerb(env *adminEnv) *cobra.Command {
	return env.verb("cancel-decommission", "Stop draining a bookie: new ledgers may use it again (fragments already moved stay moved)",
		"  strata admin bookies cancel-decommission bookie-3", []string{"BOOKIE_ID"},
		func(ctx context.Context, env *adminEnv, args []string) error {
			if err := env.rest.DeleteWithContext(ctx, decommissionPath(args[0])); err != nil {
				return err
			}
			return env.printDone("bookie %s is no longer draining", args[0])
		})
}
