package main

// Output of `strata admin` (table or JSON) and the parsing of pulsar-admin's value
// syntaxes: sizes (10M, 2G), relative times (30s, 10m, 3h, 2d, 1w) and message ids
// (ledger:entry, earliest, latest).

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
)

// printList prints names one a line (table) or as a JSON array.
func (env *adminEnv) printList(names []string) error {
	if env.output == "json" {
		if names == nil {
			names = []string{}
		}
		return env.printJSON(names)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintln(env.out, n)
	}
	return nil
}

// printValue prints an object. In table form a flat object becomes aligned
// "field  value" rows; anything nested (stats, policies) stays indented JSON, as
// pulsar-admin prints it.
func (env *adminEnv) printValue(v any) error {
	if env.output == "json" {
		return env.printJSON(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var fields map[string]any
	if json.Unmarshal(b, &fields) != nil || !flat(fields) {
		return env.printJSON(v)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(env.out, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\n", k, scalarText(fields[k]))
	}
	return tw.Flush()
}

// printDone confirms a command that returns nothing, in table form only (a script that
// asked for JSON reads the exit status).
func (env *adminEnv) printDone(format string, a ...any) error {
	if env.output == "json" {
		return nil
	}
	_, err := fmt.Fprintf(env.out, format+"\n", a...)
	return err
}

func (env *adminEnv) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.out, "%s\n", b)
	return err
}

// flat reports whether every value is a scalar or a list of scalars.
func flat(fields map[string]any) bool {
	if len(fields) == 0 {
		return false
	}
	for _, v := range fields {
		switch v := v.(type) {
		case map[string]any:
			return false
		case []any:
			for _, e := range v {
				if reflect.ValueOf(e).Kind() == reflect.Map || reflect.ValueOf(e).Kind() == reflect.Slice {
					return false
				}
			}
		}
	}
	return true
}

func scalarText(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = scalarText(e)
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v)
	}
}

// printMessages prints peeked or fetched messages like pulsar-admin: id, properties and
// the payload (as text when it is UTF-8, else as a hex dump).
func (env *adminEnv) printMessages(msgs []*utils.Message) error {
	if env.output == "json" {
		type jsonMessage struct {
			MessageID  string            `json:"messageId"`
			Properties map[string]string `json:"properties"`
			Payload    string            `json:"payload"`
		}
		out := make([]jsonMessage, 0, len(msgs))
		for _, m := range msgs {
			out = append(out, jsonMessage{shortID(m.MessageID), m.Properties, string(m.Payload)})
		}
		return env.printJSON(out)
	}
	for i, m := range msgs {
		if i > 0 {
			fmt.Fprintln(env.out)
		}
		fmt.Fprintf(env.out, "Message ID: %s\n", shortID(m.MessageID))
		fmt.Fprintf(env.out, "Properties: %s\n", propertiesText(m.Properties))
		if utf8.Valid(m.Payload) {
			fmt.Fprintf(env.out, "Payload: %s\n", m.Payload)
		} else {
			fmt.Fprintf(env.out, "Payload (%d bytes):\n%s", len(m.Payload), hex.Dump(m.Payload))
		}
	}
	return nil
}

// shortID is ledger:entry, with :partition when the topic is a partition (and the batch
// index after it when it is set; pulsaradmin does not decode it from JSON).
func shortID(id utils.MessageID) string {
	s := fmt.Sprintf("%d:%d", id.LedgerID, id.EntryID)
	if id.PartitionIndex >= 0 || id.BatchIndex > 0 {
		s += fmt.Sprintf(":%d", id.PartitionIndex)
	}
	if id.BatchIndex > 0 {
		s += fmt.Sprintf(":%d", id.BatchIndex)
	}
	return s
}

// propertiesText is "[a=1, b=2]" in key order.
func propertiesText(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + p[k]
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// parseSize reads pulsar-admin's size syntax: bytes, or a number with k, m, g or t
// (binary units); -1 means unlimited.
func parseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	mult := int64(1)
	num := s
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			num = s[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q: want bytes or a number with K, M, G or T (e.g. 10M), or -1", s)
	}
	return v * mult, nil
}

// parseRelativeSeconds reads pulsar-admin's relative time syntax: seconds, or a number
// with s, m, h, d, w or y; -1 means unlimited.
func parseRelativeSeconds(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	units := map[byte]int64{'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 7 * 86400, 'y': 365 * 86400}
	mult := int64(1)
	num := s
	if n := len(s); n > 0 {
		if u, ok := units[s[n-1]|0x20]; ok && (s[n-1] < '0' || s[n-1] > '9') {
			mult, num = u, s[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid time %q: want seconds or a number with s, m, h, d, w or y (e.g. 10m), or -1", s)
	}
	return v * mult, nil
}

// parseMessageID reads "earliest", "latest" or ledger:entry[:partition[:batch]].
func parseMessageID(s string) (utils.MessageID, error) {
	switch strings.ToLower(s) {
	case "earliest":
		return utils.Earliest, nil
	case "latest", "":
		return utils.Latest, nil
	}
	id, err := utils.ParseMessageID(s)
	if err != nil {
		return utils.MessageID{}, fmt.Errorf("invalid message id %q: want earliest, latest or LEDGER:ENTRY", s)
	}
	return *id, nil
}

// timestampAgo is the Unix time in milliseconds the given number of seconds ago.
func timestampAgo(seconds int64) int64 {
	return time.Now().Add(-time.Duration(seconds) * time.Second).UnixMilli()
}
