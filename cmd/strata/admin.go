package main

// `strata admin` is a pulsar-admin for Strata: the same groups, verbs and flag names
// (clusters, tenants, namespaces, topics, brokers, bookies), speaking Pulsar's admin v2
// REST API through pulsar-client-go's pulsaradmin package — the Go reference
// implementation of those calls — so it works against Apache Pulsar as well.
//
// The files are split by group: admin_tenants.go (clusters, tenants), admin_namespaces.go,
// admin_topics.go, admin_subscriptions.go (the subscription verbs pulsar-admin keeps
// under `topics`), admin_brokers.go (brokers, bookies), admin_output.go (table/JSON
// output and value parsing). This file holds the group plumbing and the error surface.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin/auth"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin/config"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/rest"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { subcommands = append(subcommands, adminCommand) }

// adminEnv is what every admin verb needs: the flags of `strata admin` and, once a verb
// runs, the REST client built from them.
type adminEnv struct {
	url, output            string
	authPlugin, authParams string
	timeout                time.Duration

	client admin.Client
	rest   *rest.Client // for endpoints pulsaradmin has no method for (bookies)
	rec    *requestRecorder
	out    io.Writer
}

// adminVerb is the body of one admin command; args have already been counted.
type adminVerb func(ctx context.Context, env *adminEnv, args []string) error

func adminCommand() *cobra.Command { return newAdminCommand(os.Stdout) }

// newAdminCommand is `strata admin` printing its results to out.
func newAdminCommand(out io.Writer) *cobra.Command {
	env := &adminEnv{out: out}
	cmd := groupCommand("admin", "Administer a Strata (or Pulsar) cluster over the admin REST API",
		`Administer tenants, namespaces, topics and subscriptions, like pulsar-admin.

Every command speaks Pulsar's admin v2 REST API (the calls pulsar-client-go's pulsaradmin
makes), so it works against Strata and Apache Pulsar alike. Failures print one line,
"strata admin: GROUP VERB: STATUS: REASON", and exit with status 1.`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&env.url, "admin-url", "http://localhost:8080", "the broker's HTTP service URL (pulsar-admin's webServiceUrl)")
	pf.StringVarP(&env.output, "output", "o", "table", "output format: table or json")
	pf.StringVar(&env.authPlugin, "auth-plugin", "", "authentication plugin (e.g. token, org.apache.pulsar.client.impl.auth.AuthenticationToken)")
	pf.StringVar(&env.authParams, "auth-params", "", "authentication parameters (e.g. token:xxxx)")
	pf.DurationVar(&env.timeout, "request-timeout", 60*time.Second, "timeout of each admin command")
	// Flag errors (unknown flag, bad number) get the same one-line shape and exit status
	// as failed requests.
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintf(os.Stderr, "strata admin: %s: %v (see '%s --help')\n", verbPath(c), err, c.CommandPath())
		os.Exit(1)
		return err
	})
	cmd.AddCommand(
		clustersCommand(env), tenantsCommand(env), namespacesCommand(env),
		topicsCommand(env), brokersCommand(env), bookiesCommand(env),
	)
	return cmd
}

// groupCommand is a command that only holds subcommands. Cobra would print the help and
// exit 0 for `strata admin topics no-such-verb`; a typo must fail instead.
func groupCommand(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return fmt.Errorf("%s\nRun '%s --help' for usage", msg, cmd.CommandPath())
		},
	}
}

// verb builds one admin leaf command. argNames names its positional arguments (all
// required); the body runs with a connected client and the command's deadline.
func (env *adminEnv) verb(use, short, example string, argNames []string, body adminVerb) *cobra.Command {
	cmd := &cobra.Command{
		Use:     strings.Join(append([]string{use}, argNames...), " "),
		Short:   short,
		Example: example,
		// Counted in RunE so that a missing argument gets the same one-line error as a
		// failed request.
		Args: cobra.ArbitraryArgs,
		Run: func(cmd *cobra.Command, args []string) {
			if err := env.run(cmd, argNames, args, body); err != nil {
				fmt.Fprintf(os.Stderr, "strata admin: %s: %v\n", verbPath(cmd), err)
				os.Exit(1)
			}
		},
	}
	cmd.Flags().SetNormalizeFunc(pulsarAdminFlagAliases)
	return cmd
}

// requiredAnnotation marks the flags a verb cannot run without. Checked in run rather
// than with cobra's MarkFlagRequired so that the error has the same shape as any other.
const requiredAnnotation = "strata_required"

func requireFlag(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.Flags().SetAnnotation(n, requiredAnnotation, []string{"true"}); err != nil {
			panic(err) // a misspelt flag name is a programming error
		}
	}
}

// verbPath is "topics stats" for `strata admin topics stats`.
func verbPath(cmd *cobra.Command) string {
	p := strings.TrimSpace(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" admin"))
	if p == "" {
		return "usage"
	}
	return p
}

func (env *adminEnv) run(cmd *cobra.Command, argNames, args []string, body adminVerb) error {
	required := 0
	for _, n := range argNames {
		if !strings.HasPrefix(n, "[") {
			required++
		}
	}
	switch {
	case len(args) < required:
		return fmt.Errorf("missing %s (usage: %s)", strings.Join(argNames[len(args):required], " "), cmd.UseLine())
	case len(args) > len(argNames):
		return fmt.Errorf("unexpected argument %q (usage: %s)", args[len(argNames)], cmd.UseLine())
	}
	var missing []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[requiredAnnotation]; ok && !f.Changed {
			missing = append(missing, "--"+f.Name)
		}
	})
	if len(missing) > 0 {
		return fmt.Errorf("missing %s (usage: %s)", strings.Join(missing, ", "), cmd.UseLine())
	}
	if env.output != "table" && env.output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", env.output)
	}
	if err := env.connect(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, env.timeout)
	defer cancel()
	return env.explain(body(ctx, env, args))
}

// connect builds the pulsaradmin client. The HTTP transport is wrapped to remember the
// last request and response, so that errors can say which endpoint failed and whether
// the server answered with Pulsar's {"reason": ...} or did not know the path at all.
func (env *adminEnv) connect() error {
	u, err := url.Parse(env.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--admin-url %q: want http://host:port or https://host:port", env.url)
	}
	cfg := &config.Config{WebServiceURL: strings.TrimRight(env.url, "/"), AuthPlugin: env.authPlugin, AuthParams: env.authParams}
	provider, err := auth.GetAuthProvider(cfg)
	if err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	env.rec = &requestRecorder{next: provider.Transport()}
	provider.WithTransport(env.rec)
	env.client, err = admin.NewPulsarClientWithAuthProvider(cfg, provider)
	if err != nil {
		return err
	}
	env.rest = &rest.Client{
		ServiceURL:  cfg.WebServiceURL,
		VersionInfo: admin.ReleaseVersion,
		HTTPClient:  &http.Client{Timeout: admin.DefaultHTTPTimeOutDuration, Transport: provider},
	}
	return nil
}

// requestRecorder is an http.RoundTripper that remembers the last request and the
// content type of its response, for error messages.
type requestRecorder struct {
	next http.RoundTripper

	mu sync.Mutex
	// Guarded by mu.
	method, path, contentType string
}

func (r *requestRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.method, r.path, r.contentType = req.Method, req.URL.Path, ""
	if resp != nil {
		r.contentType = resp.Header.Get("Content-Type")
	}
	return resp, err
}

func (r *requestRecorder) last() (method, path, contentType string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.method, r.path, r.contentType
}

// explain turns the errors of pulsaradmin and net/http into one readable line:
// "404 Not Found: Topic not found", "cannot reach http://…: connection refused", or, for
// a path the server does not route (no Pulsar {"reason"} body), which endpoint is
// missing.
func (env *adminEnv) explain(err error) error {
	if err == nil {
		return nil
	}
	var re rest.Error
	if errors.As(err, &re) {
		status := fmt.Sprintf("%d %s", re.Code, http.StatusText(re.Code))
		reason := strings.TrimSpace(re.Reason)
		method, path, ctype := env.rec.last()
		if !strings.Contains(ctype, "json") && (re.Code == http.StatusNotFound || re.Code == http.StatusMethodNotAllowed) {
			return fmt.Errorf("%s: %s %s is not served by %s (this broker does not implement it yet)",
				status, method, path, env.url)
		}
		if reason == "" || reason == status {
			return errors.New(status)
		}
		return fmt.Errorf("%s: %s", status, reason)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from %s within %s (--request-timeout)", env.url, env.timeout)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("cannot reach %s: %v", env.url, oe.Err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("cannot reach %s: %v", env.url, ue.Err)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("unexpected answer from %s: %v", env.url, err)
	}
	return err
}

// pulsarAdminFlagAliases accepts the spellings pulsar-admin users type for flags whose
// Java names are single-dash multi-letter (-ttl, -lt) or camelCase, next to our
// kebab-case names.
func pulsarAdminFlagAliases(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	switch name {
	case "ttl":
		name = "messageTTL"
	case "limit-size":
		name = "limit"
	case "limit-time":
		name = "limitTime"
	case "message-id":
		name = "messageId"
	case "expire-time":
		name = "expireTime"
	case "ledger-id":
		name = "ledgerId"
	case "entry-id":
		name = "entryId"
	}
	return pflag.NormalizedName(name)
}
