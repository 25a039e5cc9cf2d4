package main

// Tiered storage verbs, pulsar-admin's names and flags: `topics offload` (the
// MessageId is computed here, from internal stats, as pulsar-admin does),
// `topics offload-status`, `topics set-/get-/remove-offload-policies`;
// `namespaces set-/get-offload-threshold`,
// `set-/get-/clear-offload-deletion-lag`, `set-/get-/remove-offload-policies`.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/spf13/cobra"
)

// offloadBefore picks the MessageId that `topics offload --size-threshold` sends: walking
// the ledgers newest to oldest (the current one counted at currentLedgerSize, as the
// broker's record may not have its size yet) and summing their sizes, the first ledger
// that brings the sum over threshold is offloaded together with every older one, so
// the id is (the next newer ledger, 0). ok is false when everything fits under the
// threshold: nothing to offload.
func offloadBefore(st utils.PersistentTopicInternalStats, threshold int64) (id utils.MessageID, ok bool) {
	n := len(st.Ledgers)
	if n == 0 {
		return utils.MessageID{}, false
	}
	var sum int64
	newer := st.Ledgers[n-1].LedgerID
	for i := n - 1; i >= 0; i-- {
		size := st.Ledgers[i].Size
		if i == n-1 {
			size = st.CurrentLedgerSize
		}
		sum += size
		if sum > threshold {
			return utils.MessageID{LedgerID: newer, EntryID: 0, PartitionIndex: -1}, true
		}
		newer = st.Ledgers[i].LedgerID
	}
	return utils.MessageID{}, false
}

func topicOffloadVerbs(env *adminEnv) []*cobra.Command {
	var threshold string
	offload := env.topicVerb("offload", "Offload a topic's older ledgers to tiered storage, keeping about --size-threshold bytes on bookies",
		"  strata admin topics offload persistent://public/default/my-topic --size-threshold 10M",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			limit, err := parseSize(threshold)
			if err != nil || limit < 0 {
				return fmt.Errorf("--size-threshold %q: want bytes or a number with K, M, G or T (e.g. 10M)", threshold)
			}
			st, err := env.client.Topics().GetInternalStatsWithContext(ctx, t)
			if err != nil {
				return err
			}
			if len(st.Ledgers) == 0 {
				return fmt.Errorf("topic %s has no data", t.String())
			}
			id, ok := offloadBefore(st, limit)
			if !ok {
				return env.printDone("Nothing to offload")
			}
			if err := env.client.Topics().OffloadWithContext(ctx, t, id); err != nil {
				return err
			}
			return env.printDone("Offload triggered for %s for messages before %s", t.String(), shortID(id))
		})
	offload.Flags().StringVarP(&threshold, "size-threshold", "s", "", "bytes to keep on bookies: 10M, 16G, 3T")
	requireFlag(offload, "size-threshold")

	var wait bool
	var interval time.Duration
	status := env.topicVerb("offload-status", "Show the state of a topic's last offload (-w: wait until it ends)",
		"  strata admin topics offload-status persistent://public/default/my-topic -w",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			st, err := env.client.Topics().OffloadStatusWithContext(ctx, t)
			if err != nil {
				return err
			}
			if wait && st.Status == utils.RUNNING {
				if st, err = env.waitOffload(ctx, t, interval); err != nil {
					return err
				}
			}
			if env.output == "json" {
				return env.printJSON(st)
			}
			return env.printOffloadStatus(st)
		})
	status.Flags().BoolVarP(&wait, "wait-complete", "w", false, "wait for a running offload to end")
	status.Flags().DurationVar(&interval, "poll-interval", time.Second, "how often to ask while waiting")
	return append([]*cobra.Command{offload, status}, topicOffloadPolicyVerbs(env)...)
}

func (env *adminEnv) printOffloadStatus(st utils.OffloadProcessStatus) error {
	switch st.Status {
	case utils.RUNNING:
		return env.printDone("Offload is currently running")
	case utils.SUCCESS:
		return env.printDone("Offload was a success")
	case utils.ERROR:
		return fmt.Errorf("offload failed: %s", st.LastError)
	default:
		return env.printDone("Offload has not been run")
	}
}

// waitOffload polls the offload status until it is no longer RUNNING. Each poll is
// bound by --request-timeout; the wait ends on an interrupt.
func (env *adminEnv) waitOffload(ctx context.Context, t utils.TopicName, interval time.Duration) (utils.OffloadProcessStatus, error) {
	wctx, stop := signal.NotifyContext(context.WithoutCancel(ctx), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tick := time.NewTicker(max(interval, 10*time.Millisecond))
	defer tick.Stop()
	if env.output != "json" {
		fmt.Fprint(env.out, "Offload is currently running")
		defer fmt.Fprintln(env.out)
	}
	for {
		select {
		case <-wctx.Done():
			return utils.OffloadProcessStatus{}, errors.New("interrupted; the offload goes on")
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(wctx, env.timeout)
		st, err := env.client.Topics().OffloadStatusWithContext(rctx, t)
		cancel()
		if err != nil {
			return st, err
		}
		if st.Status != utils.RUNNING {
			return st, nil
		}
		if env.output != "json" {
			fmt.Fprint(env.out, ".")
		}
	}
}

func namespaceOffloadVerbs(env *adminEnv) []*cobra.Command {
	var size, tm string
	setThreshold := env.verb("set-offload-threshold",
		"Offload a namespace's topics automatically once they hold more than --size bytes on bookies (-1: the broker's default)",
		"  strata admin namespaces set-offload-threshold public/default --size 10M\n"+
			"  strata admin namespaces set-offload-threshold public/default --size 0 --time 1h", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			name, err := namespaceName(args[0])
			if err != nil {
				return err
			}
			if size == "" && tm == "" {
				return errors.New("give --size and/or --time")
			}
			if size != "" {
				bytes, err := parseSize(size)
				if err != nil {
					return fmt.Errorf("--size: %w", err)
				}
				if err := env.client.Namespaces().SetOffloadThresholdWithContext(ctx, name, bytes); err != nil {
					return err
				}
			}
			if tm != "" {
				secs, err := parseRelativeSeconds(tm)
				if err != nil {
					return fmt.Errorf("--time: %w", err)
				}
				if err := env.client.Namespaces().SetOffloadThresholdInSecondsWithContext(ctx, name, secs); err != nil {
					return err
				}
			}
			return env.printDone("Set offload threshold of %s", args[0])
		})
	setThreshold.Flags().StringVarP(&size, "size", "s", "", "bytes kept on bookies: 10M, 16G, 3T; 0 offloads as soon as possible; -1 falls back to the broker's")
	setThreshold.Flags().StringVarP(&tm, "time", "t", "", "offload ledgers closed longer ago than this: 30m, 12h, 7d; -1 falls back to the broker's")

	getThreshold := env.verb("get-offload-threshold", "Show a namespace's offload thresholds (-1: the broker's default)",
		"  strata admin namespaces get-offload-threshold public/default", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			name, err := namespaceName(args[0])
			if err != nil {
				return err
			}
			bytes, err := env.client.Namespaces().GetOffloadThresholdWithContext(ctx, name)
			if err != nil {
				return err
			}
			secs, err := env.client.Namespaces().GetOffloadThresholdInSecondsWithContext(ctx, name)
			if err != nil {
				return err
			}
			return env.printValue(map[string]int64{"offloadThresholdInBytes": bytes, "offloadThresholdInSeconds": secs})
		})

	var lag string
	setLag := env.verb("set-offload-deletion-lag", "Delete the bookie copy of an offloaded ledger this long after its offload",
		"  strata admin namespaces set-offload-deletion-lag public/default --lag 10m", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			name, err := namespaceName(args[0])
			if err != nil {
				return err
			}
			secs, err := parseRelativeSeconds(lag)
			if err != nil || secs < 0 {
				return fmt.Errorf("--lag %q: want a time such as 10m, 3h, 2d", lag)
			}
			if err := env.client.Namespaces().SetOffloadDeleteLagWithContext(ctx, name, secs*1000); err != nil {
				return err
			}
			return env.printDone("Set offload deletion lag of %s to %s", args[0], time.Duration(secs)*time.Second)
		})
	setLag.Flags().StringVarP(&lag, "lag", "l", "", "the lag: 10m, 3h, 2d")
	requireFlag(setLag, "lag")

	getLag := env.verb("get-offload-deletion-lag", "Show a namespace's offload deletion lag in ms (-1: the broker's default)",
		"  strata admin namespaces get-offload-deletion-lag public/default", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			name, err := namespaceName(args[0])
			if err != nil {
				return err
			}
			ms, err := env.client.Namespaces().GetOffloadDeleteLagWithContext(ctx, name)
			if err != nil {
				return err
			}
			return env.printValue(map[string]int64{"offloadDeletionLagMs": ms})
		})
	clearLag := env.verb("clear-offload-deletion-lag", "Return a namespace to the broker's offload deletion lag",
		"  strata admin namespaces clear-offload-deletion-lag public/default", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			name, err := namespaceName(args[0])
			if err != nil {
				return err
			}
			if err := env.client.Namespaces().ClearOffloadDeleteLagWithContext(ctx, name); err != nil {
				return err
			}
			return env.printDone("Cleared offload deletion lag of %s", args[0])
		})

	getPolicies := env.verb("get-offload-policies", "Show a namespace's offload policies (JSON)",
		"  strata admin namespaces get-offload-policies public/default", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			if _, err := namespaceName(args[0]); err != nil {
				return err
			}
			var p map[string]any
			if err := env.rest.GetWithContext(ctx, "/admin/v2/namespaces/"+args[0]+"/offloadPolicies", &p); err != nil {
				return err
			}
			return env.printJSON(p)
		})
	removePolicies := env.verb("remove-offload-policies", "Remove a namespace's offload policies",
		"  strata admin namespaces remove-offload-policies public/default", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			if _, err := namespaceName(args[0]); err != nil {
				return err
			}
			if err := env.rest.DeleteWithContext(ctx, "/admin/v2/namespaces/"+args[0]+"/removeOffloadPolicies"); err != nil {
				return err
			}
			return env.printDone("Removed offload policies of %s", args[0])
		})
	return []*cobra.Command{setThreshold, getThreshold, setLag, getLag, clearLag,
		setOffloadPoliciesCommand(env), getPolicies, removePolicies}
}

// offloadPolicyFlags are set-offload-policies' flags, pulsar-admin's long names.
type offloadPolicyFlags struct {
	driver, region, bucket, endpoint string
	threshold, thresholdTime, lag    string
	readPriority                     string
}

// body is the OffloadPolicies JSON to send: only what was given, so that an unset
// threshold stays unset (pulsaradmin's struct cannot send a threshold of 0).
func (f offloadPolicyFlags) body() (map[string]any, error) {
	b := map[string]any{}
	if f.driver != "" {
		b["managedLedgerOffloadDriver"] = f.driver
	}
	driver := strings.ToLower(f.driver)
	for k, v := range map[string]string{"Bucket": f.bucket, "Region": f.region, "ServiceEndpoint": f.endpoint} {
		if v == "" {
			continue
		}
		b["managedLedgerOffload"+k] = v
		if driver == "s3" || driver == "aws-s3" {
			b["s3ManagedLedgerOffload"+k] = v
		}
	}
	if f.threshold != "" {
		n, err := parseSize(f.threshold)
		if err != nil {
			return nil, fmt.Errorf("--offloadAfterThreshold: %w", err)
		}
		b["managedLedgerOffloadThresholdInBytes"] = n
	}
	if f.thresholdTime != "" {
		n, err := parseRelativeSeconds(f.thresholdTime)
		if err != nil {
			return nil, fmt.Errorf("--offloadAfterThresholdInSeconds: %w", err)
		}
		b["managedLedgerOffloadThresholdInSeconds"] = n
	}
	if f.lag != "" {
		n, err := parseRelativeSeconds(f.lag)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--offloadAfterElapsed %q: want a time such as 10m, 3h, 2d", f.lag)
		}
		b["managedLedgerOffloadDeletionLagInMillis"] = n * 1000
	}
	switch strings.ToLower(f.readPriority) {
	case "":
	case "tiered-storage-first":
		b["managedLedgerOffloadedReadPriority"] = "TIERED_STORAGE_FIRST"
	case "bookkeeper-first":
		b["managedLedgerOffloadedReadPriority"] = "BOOKKEEPER_FIRST"
	default:
		return nil, fmt.Errorf("--offloadedReadPriority %q: want tiered-storage-first or bookkeeper-first", f.readPriority)
	}
	return b, nil
}

func setOffloadPoliciesCommand(env *adminEnv) *cobra.Command {
	var f offloadPolicyFlags
	c := env.verb("set-offload-policies", "Set a namespace's offload policies",
		"  strata admin namespaces set-offload-policies public/default --driver aws-s3 --bucket cold --region eu-west-1 \\\n"+
			"      --endpoint https://s3.example:9000 --offloadAfterThreshold 1G --offloadAfterElapsed 4h", ns,
		func(ctx context.Context, env *adminEnv, args []string) error {
			if _, err := namespaceName(args[0]); err != nil {
				return err
			}
			body, err := f.body()
			if err != nil {
				return err
			}
			if err := env.rest.PostWithContext(ctx, "/admin/v2/namespaces/"+args[0]+"/offloadPolicies", body); err != nil {
				return err
			}
			return env.printDone("Set offload policies of %s", args[0])
		})
	f.register(c)
	requireFlag(c, "driver")
	return c
}

// topicOffloadPolicyVerbs are the topic-level override verbs: set (only the flags
// given; the driver may be left to the namespace), get (the override, or with
// --applied the effective one) and remove.
func topicOffloadPolicyVerbs(env *adminEnv) []*cobra.Command {
	path := func(t utils.TopicName) string { return "/admin/v2/" + t.GetRestPath() + "/offloadPolicies" }
	var f offloadPolicyFlags
	set := env.topicVerb("set-offload-policies", "Override a topic's offload policies",
		"  strata admin topics set-offload-policies persistent://public/default/events --offloadAfterThreshold 0",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			body, err := f.body()
			if err != nil {
				return err
			}
			if len(body) == 0 {
				return errors.New("give at least one offload policy flag")
			}
			if err := env.rest.PostWithContext(ctx, path(t), body); err != nil {
				return err
			}
			return env.printDone("Set offload policies of %s", t.String())
		})
	f.register(set)
	var applied bool
	get := env.topicVerb("get-offload-policies", "Show a topic's offload policies override (JSON; null when none)",
		"  strata admin topics get-offload-policies persistent://public/default/events --applied",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			var p map[string]any
			q := map[string]string{"applied": fmt.Sprint(applied)}
			if _, err := env.rest.GetWithQueryParamsWithContext(ctx, path(t), &p, q, true); err != nil {
				return err
			}
			return env.printJSON(p)
		})
	get.Flags().BoolVarP(&applied, "applied", "a", false, "show the effective policies (the namespace's with the override merged in)")
	remove := env.topicVerb("remove-offload-policies", "Remove a topic's offload policies override",
		"  strata admin topics remove-offload-policies persistent://public/default/events",
		func(ctx context.Context, env *adminEnv, t utils.TopicName) error {
			if err := env.rest.DeleteWithContext(ctx, path(t)); err != nil {
				return err
			}
			return env.printDone("Removed offload policies of %s", t.String())
		})
	return []*cobra.Command{set, get, remove}
}

// register adds the flags to c.
func (f *offloadPolicyFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVarP(&f.driver, "driver", "d", "", "offload driver: filesystem, aws-s3 or s3")
	fl.StringVarP(&f.region, "region", "r", "", "the bucket's region")
	fl.StringVarP(&f.bucket, "bucket", "b", "", "bucket (required for aws-s3 and s3)")
	fl.StringVarP(&f.endpoint, "endpoint", "e", "", "S3 endpoint URL")
	fl.StringVarP(&f.threshold, "offloadAfterThreshold", "t", "", "offload once a topic holds more than this on bookies: 10M, 16G (-1: off)")
	fl.StringVar(&f.thresholdTime, "offloadAfterThresholdInSeconds", "", "offload ledgers closed longer ago than this: 1h, 7d (-1: off)")
	fl.StringVar(&f.lag, "offloadAfterElapsed", "", "delete the bookie copy this long after the offload: 10m, 4h")
	fl.StringVar(&f.readPriority, "offloadedReadPriority", "", "tiered-storage-first or bookkeeper-first")
}
