package main

// `strata client produce`: pulsar-client's produce verb.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/spf13/cobra"
)

type produceFlags struct {
	messages, files, properties []string
	separator, key              string
	count                       int
	rate                        float64
	disableBatching, chunking   bool
}

func produceCommand(env *clientEnv) *cobra.Command {
	var f produceFlags
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Send messages to a topic",
		Long: `Send messages to a topic. Each -m value is split on --separator (a comma by default)
into messages; every message (and every -f file) is sent --num-produce times.`,
		Example: `  strata client produce persistent://public/default/my-topic -m hello
  strata client produce my-topic -m "a,b,c" -n 10 -r 5 -k user-1 -p source=cli -p env=dev
  strata client produce my-topic -f ./payload.bin`,
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.messages, "messages", "m", nil, "message(s) to send, split on --separator (repeatable)")
	fl.StringArrayVarP(&f.files, "files", "f", nil, "file(s) whose contents to send as messages (repeatable)")
	fl.StringVarP(&f.separator, "separator", "s", ",", "splits each -m value into messages (empty: no split)")
	fl.IntVarP(&f.count, "num-produce", "n", 1, "number of times to send each message")
	fl.Float64VarP(&f.rate, "rate", "r", 0, "messages per second (0 = as fast as possible)")
	fl.StringVarP(&f.key, "key", "k", "", "message key")
	fl.StringArrayVarP(&f.properties, "properties", "p", nil, "message property key=value (repeatable)")
	fl.BoolVar(&f.disableBatching, "disable-batching", false, "send each message in its own entry (pulsar-client's -db)")
	fl.BoolVarP(&f.chunking, "chunking", "c", false, "split large messages into chunks (turns batching off)")
	clientVerb(cmd, func(ctx context.Context, topic string) error { return env.produce(ctx, topic, f) })
	return cmd
}

// payloads is the list of message bodies one round sends.
func (f produceFlags) payloads() ([][]byte, error) {
	var out [][]byte
	for _, m := range f.messages {
		parts := []string{m}
		if f.separator != "" {
			parts = strings.Split(m, f.separator)
		}
		for _, p := range parts {
			out = append(out, []byte(p))
		}
	}
	for _, name := range f.files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("nothing to send: give -m MESSAGE or -f FILE")
	}
	return out, nil
}

func (f produceFlags) propertyMap() (map[string]string, error) {
	if len(f.properties) == 0 {
		return nil, nil
	}
	props := make(map[string]string, len(f.properties))
	for _, kv := range f.properties {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-p %q: want key=value", kv)
		}
		props[k] = v
	}
	return props, nil
}

func (env *clientEnv) produce(ctx context.Context, topic string, f produceFlags) error {
	if f.count < 1 {
		return fmt.Errorf("--num-produce must be at least 1, got %d", f.count)
	}
	if f.rate < 0 {
		return fmt.Errorf("--rate must be 0 or more, got %g", f.rate)
	}
	payloads, err := f.payloads()
	if err != nil {
		return err
	}
	props, err := f.propertyMap()
	if err != nil {
		return err
	}
	client, err := env.connect()
	if err != nil {
		return err
	}
	defer client.Close()
	producer, err := client.CreateProducer(pulsar.ProducerOptions{
		Topic:           topic,
		DisableBatching: f.disableBatching || f.chunking,
		EnableChunking:  f.chunking,
	})
	if err != nil {
		return env.explain("creating a producer on "+topic, err)
	}
	defer producer.Close()

	// Sends are asynchronous so that batching works; the first failure stops the run.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		sent     int
		firstErr error
	)
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return firstErr
	}
	var tick <-chan time.Time
	if f.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / f.rate))
		defer t.Stop()
		tick = t.C
	}
	first := true
send:
	for range f.count {
		for _, p := range payloads {
			if tick != nil && !first {
				select {
				case <-tick:
				case <-ctx.Done():
					break send
				}
			}
			first = false
			if ctx.Err() != nil || failed() != nil {
				break send
			}
			wg.Add(1)
			producer.SendAsync(ctx, &pulsar.ProducerMessage{Payload: p, Key: f.key, Properties: props},
				func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
					defer wg.Done()
					mu.Lock()
					defer mu.Unlock()
					if err != nil && firstErr == nil {
						firstErr = err
					} else if err == nil {
						sent++
					}
				})
		}
	}
	if err := producer.FlushWithCtx(ctx); err != nil && failed() == nil && ctx.Err() == nil {
		return env.explain("flushing", err)
	}
	if ctx.Err() != nil {
		producer.Close() // fails what is still pending, so the wait below ends
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "%d messages successfully produced\n", sent)
	if err := failed(); err != nil {
		return env.explain(fmt.Sprintf("sending to %s (after %d sent)", topic, sent), err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d of %d messages", sent, f.count*len(payloads))
	}
	return nil
}
