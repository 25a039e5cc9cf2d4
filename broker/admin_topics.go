package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/metadata"
)

// The partitioned-topic part of Pulsar's admin v2 REST API (reference §4.2), enough for
// pulsaradmin's Topics().Create(name, N) and Topics().Update(name, N), the raw
// `PUT …/partitions` with a bare JSON integer that pulsar-client-go's tests send, and
// the GET that HTTP lookup uses.

// maxAdminBody bounds an admin request body.
const maxAdminBody = 1 << 20

func (b *Broker) registerTopicAdmin(mux *http.ServeMux) {
	const p = "/admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions"
	mux.HandleFunc("PUT "+p, b.createPartitionedTopic)
	mux.HandleFunc("POST "+p, b.updatePartitionedTopic)
	mux.HandleFunc("GET "+p, b.getPartitionedMetadata)
}

// adminTopic parses the topic named by the request path.
func adminTopic(r *http.Request) (topic.Name, error) {
	return topic.Parse("persistent://" + r.PathValue("tenant") + "/" + r.PathValue("namespace") + "/" + r.PathValue("topic"))
}

// adminError writes Pulsar's error body: {"reason": "..."}.
func adminError(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"reason": reason})
}

// parsePartitions reads the body of a create-partitioned-topic request: a bare JSON
// integer, or pulsaradmin's {"partitions": N, "properties": …}.
func parsePartitions(body []byte) (int, error) {
	body = bytes.TrimSpace(body)
	var n int
	if err := json.Unmarshal(body, &n); err == nil {
		return n, nil
	}
	var m struct {
		Partitions *int `json:"partitions"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Partitions == nil {
		return 0, fmt.Errorf("body %q is neither a partition count nor {\"partitions\": N}", body)
	}
	return *m.Partitions, nil
}

func (b *Broker) createPartitionedTopic(w http.ResponseWriter, r *http.Request) {
	name, n, ok := readPartitions(w, r)
	if !ok {
		return
	}
	ns := b.svc.Namespaces
	if _, err := ns.Policies(r.Context(), name.NamespaceName()); err != nil {
		if errors.Is(err, service.ErrNotFound) {
			adminError(w, http.StatusNotFound, "Namespace does not exist")
			return
		}
		adminError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if err := ns.CreatePartitionedTopic(r.Context(), name, n); err != nil {
		if errors.Is(err, metadata.ErrExists) {
			adminError(w, http.StatusConflict, "This topic already exists")
			return
		}
		adminError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readPartitions reads and checks the partition count of a create or update request.
func readPartitions(w http.ResponseWriter, r *http.Request) (topic.Name, int, bool) {
	name, err := adminTopic(r)
	if err != nil {
		adminError(w, http.StatusPreconditionFailed, err.Error())
		return topic.Name{}, 0, false
	}
	if name.IsPartition() {
		adminError(w, http.StatusPreconditionFailed, fmt.Sprintf("%s is a partition name", name))
		return topic.Name{}, 0, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody))
	if err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return topic.Name{}, 0, false
	}
	n, err := parsePartitions(body)
	if err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return topic.Name{}, 0, false
	}
	if n < 1 {
		adminError(w, http.StatusPreconditionFailed, fmt.Sprintf("the number of partitions must be at least 1, got %d", n))
		return topic.Name{}, 0, false
	}
	return name, n, true
}

// updatePartitionedTopic raises the partition count; clients pick the new partitions
// up at their next partition discovery.
func (b *Broker) updatePartitionedTopic(w http.ResponseWriter, r *http.Request) {
	name, n, ok := readPartitions(w, r)
	if !ok {
		return
	}
	if err := b.svc.Namespaces.UpdatePartitionedTopic(r.Context(), name, n); err != nil {
		switch {
		case errors.Is(err, service.ErrNotFound):
			adminError(w, http.StatusNotFound, "Partitioned topic does not exist")
		case errors.Is(err, service.ErrPartitionsNotIncreased):
			adminError(w, http.StatusConflict, err.Error())
		default:
			adminError(w, http.StatusInternalServerError, err.Error())
		}
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (b *Broker) getPartitionedMetadata(w http.ResponseWriter, r *http.Request) {
	name, err := adminTopic(r)
	if err != nil {
		adminError(w, http.StatusPreconditionFailed, err.Error())
		return
	}
	n, err := b.svc.Namespaces.PartitionedMetadata(r.Context(), name)
	if err != nil {
		adminError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(service.PartitionedTopicMetadata{Partitions: n})
}
