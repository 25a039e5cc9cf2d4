package perf

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	pulsarlog "github.com/apache/pulsar-client-go/pulsar/log"
)

// Common are the settings every run shares.
type Common struct {
	URL string
	// Interval between progress lines; 0 prints none.
	Interval time.Duration
	// Out receives progress lines and the summary; nil means os.Stdout.
	Out io.Writer
	// Logger is the Pulsar client's log; nil means warnings and errors to stderr.
	Logger *slog.Logger
	// Args is the command line, copied into the JSON summary so a figure can be rerun.
	Args []string
	// SeriesPath, if set, receives a CSV latency time series per SeriesRes of send time.
	SeriesPath string
	SeriesRes  time.Duration
}

// newSeries returns a series starting at start if one was asked for, else nil.
func (c *Common) newSeries(start time.Time) *series {
	if c.SeriesPath == "" {
		return nil
	}
	return newSeries(start, c.SeriesRes)
}

func (c *Common) validate() error {
	if c.URL == "" {
		return fmt.Errorf("perf: no service URL")
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return nil
}

func (c *Common) newClient() (pulsar.Client, error) {
	cl, err := pulsar.NewClient(pulsar.ClientOptions{
		URL:    c.URL,
		Logger: pulsarlog.NewLoggerWithSlog(c.Logger),
	})
	if err != nil {
		return nil, fmt.Errorf("perf: client for %s: %w", c.URL, err)
	}
	return cl, nil
}

// ParseSubscriptionType maps shared|exclusive|failover|key_shared to the client's type.
func ParseSubscriptionType(s string) (pulsar.SubscriptionType, error) {
	switch s {
	case "shared":
		return pulsar.Shared, nil
	case "exclusive":
		return pulsar.Exclusive, nil
	case "failover":
		return pulsar.Failover, nil
	case "key_shared", "key-shared":
		return pulsar.KeyShared, nil
	}
	return 0, fmt.Errorf("perf: subscription type %q: want shared, exclusive, failover or key_shared", s)
}

// ParseInitialPosition maps earliest|latest to the client's initial position.
func ParseInitialPosition(s string) (pulsar.SubscriptionInitialPosition, error) {
	switch s {
	case "earliest":
		return pulsar.SubscriptionPositionEarliest, nil
	case "latest":
		return pulsar.SubscriptionPositionLatest, nil
	}
	return 0, fmt.Errorf("perf: initial position %q: want earliest or latest", s)
}
