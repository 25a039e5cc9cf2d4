package broker

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/strata-io/strata/broker/service"
	"github.com/strata-io/strata/broker/topic"
)

// HTTP lookup (reference §4.2): what pulsar-client-go calls instead of LOOKUP,
// GET_TOPICS_OF_NAMESPACE and GET_SCHEMA when its service URL is http://. Partition
// counts come from GET …/partitions (admin_topics.go). Producing and consuming still
// happen over the binary protocol, at the brokerUrl returned here.

func (b *Broker) registerHTTPLookup(mux *http.ServeMux) {
	mux.HandleFunc("GET /lookup/v2/topic/{domain}/{tenant}/{namespace}/{topic}", b.lookupTopic)
	mux.HandleFunc("GET /admin/v2/namespaces/{tenant}/{namespace}/topics", b.namespaceTopics)
	mux.HandleFunc("GET /admin/v2/schemas/{tenant}/{namespace}/{topic}/schema", b.getSchema)
	mux.HandleFunc("GET /admin/v2/schemas/{tenant}/{namespace}/{topic}/schema/{version}", b.getSchema)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// lookupTopic answers with this broker: a single broker serves every topic.
func (b *Broker) lookupTopic(w http.ResponseWriter, r *http.Request) {
	if _, err := topic.Parse(r.PathValue("domain") + "://" + r.PathValue("tenant") + "/" +
		r.PathValue("namespace") + "/" + r.PathValue("topic")); err != nil {
		adminError(w, http.StatusPreconditionFailed, err.Error())
		return
	}
	httpURL := ""
	if b.httpLn != nil {
		_, port, _ := net.SplitHostPort(b.httpLn.Addr().String())
		httpURL = "http://" + net.JoinHostPort(b.advertisedHost, port)
	}
	writeJSON(w, map[string]string{"brokerUrl": b.pulsarURL, "httpUrl": httpURL})
}

// namespaceTopics lists a namespace's persistent topics; unlike the binary command, a
// namespace that does not exist is an error (404), as in Pulsar.
func (b *Broker) namespaceTopics(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("tenant") + "/" + r.PathValue("namespace")
	if err := topic.ValidateNamespace(ns); err != nil {
		adminError(w, http.StatusPreconditionFailed, err.Error())
		return
	}
	if _, err := b.svc.Namespaces.Policies(r.Context(), ns); err != nil {
		if errors.Is(err, service.ErrNotFound) {
			adminError(w, http.StatusNotFound, "Namespace does not exist")
			return
		}
		adminError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if mode := r.URL.Query().Get("mode"); mode == "NON_PERSISTENT" {
		writeJSON(w, []string{}) // no non-persistent topics yet
		return
	}
	topics, err := b.svc.Namespaces.TopicsOf(r.Context(), ns)
	if err != nil {
		adminError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if topics == nil {
		topics = []string{}
	}
	writeJSON(w, topics)
}

// schemaTypeNames are Pulsar's SchemaType names, by Schema.Type number, as its REST
// API spells them (and pulsar-client-go's HTTPSchemaTypeMap reads them).
var schemaTypeNames = map[int32]string{
	0: "NONE", 1: "STRING", 2: "JSON", 3: "PROTOBUF", 4: "AVRO", 5: "BOOLEAN", 6: "INT8", 7: "INT16",
	8: "INT32", 9: "INT64", 10: "FLOAT", 11: "DOUBLE", 12: "DATE", 13: "TIME", 14: "TIMESTAMP",
	15: "KEYVALUE", 16: "INSTANT", 17: "LOCAL_DATE", 18: "LOCAL_TIME", 19: "LOCAL_DATE_TIME",
	20: "PROTOBUF_NATIVE",
}

// getSchema returns a topic's schema (the latest, or the version in the path); 404 when
// there is none.
func (b *Broker) getSchema(w http.ResponseWriter, r *http.Request) {
	name, err := topic.Parse("persistent://" + r.PathValue("tenant") + "/" + r.PathValue("namespace") + "/" + r.PathValue("topic"))
	if err != nil {
		adminError(w, http.StatusPreconditionFailed, err.Error())
		return
	}
	version := int64(-1)
	if v := r.PathValue("version"); v != "" {
		if version, err = strconv.ParseInt(v, 10, 64); err != nil || version < 0 {
			adminError(w, http.StatusBadRequest, "bad schema version "+strconv.Quote(v))
			return
		}
	}
	info, v, err := b.svc.Schemas.Get(r.Context(), name, version)
	if err != nil {
		if errors.Is(err, service.ErrSchemaNotFound) {
			adminError(w, http.StatusNotFound, "Schema not found")
			return
		}
		adminError(w, http.StatusInternalServerError, err.Error())
		return
	}
	props := info.Properties
	if props == nil {
		props = map[string]string{}
	}
	writeJSON(w, map[string]any{"version": v, "type": schemaTypeNames[info.Type], "data": string(info.Data),
		"properties": props, "timestamp": 0})
}
