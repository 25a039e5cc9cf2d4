package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
)

// listTopics lists a namespace's non-partitioned topics and partitions
// (GET /admin/v2/persistent/{tenant}/{namespace}).
func (a *API) listTopics(w http.ResponseWriter, r *http.Request) {
	a.listOfNamespace(w, r, a.svc.Namespaces.TopicsOf)
}

// listPartitionedTopics lists a namespace's partitioned topics.
func (a *API) listPartitionedTopics(w http.ResponseWriter, r *http.Request) {
	a.listOfNamespace(w, r, a.svc.Namespaces.PartitionedTopics)
}

// listOfNamespace answers with list(namespace), sorted; 404 for an unknown namespace.
func (a *API) listOfNamespace(w http.ResponseWriter, r *http.Request, list func(context.Context, string) ([]string, error)) {
	ns, err := namespaceOf(r)
	if !handle(w, err) {
		return
	}
	if _, err := a.svc.Namespaces.Policies(r.Context(), ns); !handle(w, err) {
		return
	}
	ts, err := list(r.Context(), ns)
	if !handle(w, err) {
		return
	}
	sort.Strings(ts)
	writeJSON(w, nonNil(ts))
}

// namespaceTopics lists a namespace's persistent topics for HTTP lookup (regex
// consumers); unlike the binary command, an unknown namespace is a 404, as in Pulsar.
func (a *API) namespaceTopics(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("mode") == "NON_PERSISTENT" {
		a.listNonPersistent(w, r)
		return
	}
	a.listTopics(w, r)
}

// listNonPersistent lists non-persistent topics: none exist yet.
func (a *API) listNonPersistent(w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceOf(r)
	if !handle(w, err) {
		return
	}
	if _, err := a.svc.Namespaces.Policies(r.Context(), ns); handle(w, err) {
		writeJSON(w, []string{})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// createTopic creates a non-partitioned topic (PUT …/{topic}; the body, Pulsar's
// optional properties map, is checked but not kept).
func (a *API) createTopic(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	var props map[string]string
	if !handle(w, decodeBody(r, &props, true)) {
		return
	}
	if handle(w, a.svc.CreateTopic(r.Context(), name)) {
		noContent(w)
	}
}

func (a *API) deleteTopic(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	force, err := boolQuery(r, "force")
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.DeleteTopic(r.Context(), name, force)) {
		noContent(w)
	}
}

// parsePartitions reads the body of a create-partitioned-topic request: a bare JSON
// integer (pulsar-client-go's tests), or pulsaradmin's {"partitions": N, "properties": …}.
func parsePartitions(r *http.Request) (int, error) {
	body, err := readBody(r)
	if err != nil {
		return 0, err
	}
	var n int
	if err := json.Unmarshal(body, &n); err == nil {
		return checkPartitions(n)
	}
	var m struct {
		Partitions *int `json:"partitions"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil || m.Partitions == nil {
		return 0, fmt.Errorf("%w: body %q is neither a partition count nor {\"partitions\": N}", errBadRequest, body)
	}
	return checkPartitions(*m.Partitions)
}

func checkPartitions(n int) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("%w: the number of partitions must be at least 1, got %d", errPrecondition, n)
	}
	return n, nil
}

// baseTopicOf parses a partitioned topic's base name from the path.
func baseTopicOf(r *http.Request) (topic.Name, error) {
	name, err := topicOf(r)
	if err != nil {
		return name, err
	}
	if name.IsPartition() {
		return name, fmt.Errorf("%w: %s is a partition name", errPrecondition, name)
	}
	return name, nil
}

func (a *API) createPartitionedTopic(w http.ResponseWriter, r *http.Request) {
	name, err := baseTopicOf(r)
	if !handle(w, err) {
		return
	}
	n, err := parsePartitions(r)
	if !handle(w, err) {
		return
	}
	if _, err := a.svc.Namespaces.Policies(r.Context(), name.NamespaceName()); !handle(w, err) {
		return
	}
	if exists, err := a.svc.Namespaces.TopicExists(r.Context(), name); !handle(w, err) {
		return
	} else if exists {
		writeReason(w, http.StatusConflict, fmt.Sprintf("%s already exists as a non-partitioned topic", name))
		return
	}
	if handle(w, a.svc.Namespaces.CreatePartitionedTopic(r.Context(), name, n)) {
		noContent(w)
	}
}

// updatePartitionedTopic raises the partition count; clients pick the new partitions
// up at their next partition discovery.
func (a *API) updatePartitionedTopic(w http.ResponseWriter, r *http.Request) {
	name, err := baseTopicOf(r)
	if !handle(w, err) {
		return
	}
	n, err := parsePartitions(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.Namespaces.UpdatePartitionedTopic(r.Context(), name, n)) {
		noContent(w)
	}
}

func (a *API) getPartitionedMetadata(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	n, err := a.svc.Namespaces.PartitionedMetadata(r.Context(), name)
	if handle(w, err) {
		writeJSON(w, resources.PartitionedTopicMetadata{Partitions: n})
	}
}

func (a *API) deletePartitionedTopic(w http.ResponseWriter, r *http.Request) {
	name, err := baseTopicOf(r)
	if !handle(w, err) {
		return
	}
	force, err := boolQuery(r, "force")
	if !handle(w, err) {
		return
	}
	// Partitions served by other brokers are deleted there first.
	if err := a.deleteRemotePartitions(r, name, force); !handle(w, err) {
		return
	}
	if handle(w, a.svc.DeletePartitionedTopic(r.Context(), name, force)) {
		noContent(w)
	}
}

// existingTopic opens a topic that must already exist (never auto-creating it).
func (a *API) existingTopic(r *http.Request) (*service.Topic, error) {
	name, err := topicOf(r)
	if err != nil {
		return nil, err
	}
	return a.svc.Topic(r.Context(), name, false)
}

func (a *API) topicStats(w http.ResponseWriter, r *http.Request) {
	t, err := a.existingTopic(r)
	if handle(w, err) {
		writeJSON(w, renderStats(t.Stats()))
	}
}

// partitionedStats sums the stats of every partition; with perPartition=true (the
// default, as in Pulsar) each partition's stats are included under "partitions".
func (a *API) partitionedStats(w http.ResponseWriter, r *http.Request) {
	base, err := baseTopicOf(r)
	if !handle(w, err) {
		return
	}
	per := true
	if r.URL.Query().Get("perPartition") != "" {
		if per, err = boolQuery(r, "perPartition"); !handle(w, err) {
			return
		}
	}
	n, err := a.svc.Namespaces.PartitionedMetadata(r.Context(), base)
	if !handle(w, err) {
		return
	}
	if n == 0 {
		writeReason(w, http.StatusNotFound, fmt.Sprintf("Partitioned topic %s does not exist", base))
		return
	}
	out := partitionedStats{Metadata: resources.PartitionedTopicMetadata{Partitions: n}, topicStats: emptyStats()}
	if per {
		out.Partitions = map[string]topicStats{}
	}
	for i := 0; i < n; i++ {
		part := base.Partition(i)
		exists, err := a.svc.Namespaces.TopicExists(r.Context(), part)
		if !handle(w, err) {
			return
		}
		if !exists {
			continue // never used yet
		}
		st, err := a.partitionStats(r, part)
		if !handle(w, err) {
			return
		}
		out.add(st)
		if per {
			out.Partitions[part.String()] = st
		}
	}
	writeJSON(w, out)
}

func (a *API) internalStats(w http.ResponseWriter, r *http.Request) {
	t, err := a.existingTopic(r)
	if handle(w, err) {
		writeJSON(w, renderInternalStats(t.Stats()))
	}
}

// messageID is Pulsar's MessageId JSON.
type messageID struct {
	LedgerID       int64 `json:"ledgerId"`
	EntryID        int64 `json:"entryId"`
	PartitionIndex int   `json:"partitionIndex"`
}

func (a *API) terminate(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	pos, err := a.svc.Terminate(r.Context(), name)
	if handle(w, err) {
		writeJSON(w, messageID{LedgerID: pos.Ledger, EntryID: pos.Entry, PartitionIndex: name.PartitionIndex()})
	}
}

func (a *API) unload(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	if handle(w, a.svc.Unload(r.Context(), name)) {
		noContent(w)
	}
}
