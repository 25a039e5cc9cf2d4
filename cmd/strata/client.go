package main

// `strata client produce|consume` is pulsar-client for Strata: the same verbs and flags
// (see docs/cli.md), built on pulsar-client-go, so it talks to Strata and Apache Pulsar
// alike over the binary protocol. client_produce.go and client_consume.go hold the verbs.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/spf13/cobra"
)

func init() { subcommands = append(subcommands, clientCommand) }

// clientEnv holds the flags of `strata client`.
type clientEnv struct {
	url                    string
	authPlugin, authParams string
	operationTimeout       time.Duration
	logLevel               string
}

func clientCommand() *cobra.Command {
	env := &clientEnv{}
	cmd := groupCommand("client", "Produce and consume messages, like pulsar-client",
		`Produce messages to a topic and consume them, like pulsar-client.

Failures print one line, "strata client: VERB: REASON", and exit with status 1.`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&env.url, "url", "pulsar://localhost:6650", "the broker's service URL (pulsar://host:port or http://host:port)")
	pf.StringVar(&env.authPlugin, "auth-plugin", "", "authentication plugin (e.g. token)")
	pf.StringVar(&env.authParams, "auth-params", "", "authentication parameters (e.g. token:xxxx)")
	pf.DurationVar(&env.operationTimeout, "operation-timeout", 30*time.Second, "how long to keep trying to create a producer or consumer")
	pf.StringVar(&env.logLevel, "log-level", "warn", "level of the Pulsar client's log on stderr: debug, info, warn, error")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintf(os.Stderr, "strata client: %s: %v (see '%s --help')\n", c.Name(), err, c.CommandPath())
		os.Exit(1)
		return err
	})
	cmd.AddCommand(produceCommand(env), consumeCommand(env))
	return cmd
}

// clientVerb wraps the body of produce or consume: one TOPIC argument, a context that
// ends on SIGINT/SIGTERM, and the one-line error with exit status 1.
func clientVerb(cmd *cobra.Command, body func(ctx context.Context, topic string) error) {
	cmd.Args = cobra.ArbitraryArgs
	cmd.Run = func(cmd *cobra.Command, args []string) {
		err := func() error {
			if len(args) != 1 {
				return fmt.Errorf("want exactly one TOPIC, got %d arguments (usage: %s)", len(args), cmd.UseLine())
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return body(ctx, args[0])
		}()
		if err != nil {
			fmt.Fprintf(os.Stderr, "strata client: %s: %v\n", cmd.Name(), err)
			os.Exit(1)
		}
	}
}

// connect makes the Pulsar client. It connects lazily: a broker that is down shows as
// an error when the producer or consumer is created.
func (env *clientEnv) connect() (pulsar.Client, error) {
	logger, err := newLogger(env.logLevel)
	if err != nil {
		return nil, err
	}
	opts := pulsar.ClientOptions{
		URL:               env.url,
		OperationTimeout:  env.operationTimeout,
		ConnectionTimeout: min(env.operationTimeout, 10*time.Second),
		Logger:            log.NewLoggerWithSlog(logger),
	}
	if env.authPlugin != "" {
		a, err := pulsar.NewAuthentication(env.authPlugin, env.authParams)
		if err != nil {
			return nil, fmt.Errorf("authentication: %w", err)
		}
		opts.Authentication = a
	}
	c, err := pulsar.NewClient(opts)
	if err != nil {
		return nil, fmt.Errorf("--url %q: %w", env.url, err)
	}
	return c, nil
}

// explain adds what a user can act on to the client library's terse errors.
func (env *clientEnv) explain(what string, err error) error {
	var pe *pulsar.Error
	if (errors.As(err, &pe) && pe.Result() == pulsar.ConnectError) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: cannot reach %s (tried for --operation-timeout %s): %s",
			what, env.url, env.operationTimeout, oneLine(err))
	}
	return fmt.Errorf("%s: %s", what, oneLine(err))
}

// oneLine joins the lines of an errors.Join chain, so that the failure stays one line.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
