package admin

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/strata-io/strata/broker/topic"
)

// HTTP lookup (reference pulsar-protocol.md §4.2): what pulsar-client-go calls instead
// of LOOKUP, GET_TOPICS_OF_NAMESPACE and GET_SCHEMA when its service URL is http://.
// Partition counts come from GET …/partitions (topics.go). Producing and consuming
// still happen over the binary protocol, at the brokerUrl returned here.

// lookupTopic answers with the broker serving the topic: this one, the owner of its
// bundle, or — for a bundle nobody owns — a 307 to the broker chosen to own it, asked
// authoritatively so that it claims the bundle.
func (a *API) lookupTopic(w http.ResponseWriter, r *http.Request) {
	name, err := topic.Parse(r.PathValue("domain") + "://" + r.PathValue("tenant") + "/" +
		r.PathValue("namespace") + "/" + r.PathValue("topic"))
	if !handle(w, err) {
		return
	}
	own := a.svc.Ownership()
	if own == nil {
		writeJSON(w, map[string]string{"brokerUrl": a.cfg.BrokerURL, "httpUrl": a.cfg.HTTPURL})
		return
	}
	res, err := own.Lookup(r.Context(), name, r.URL.Query().Get("authoritative") == "true")
	if !handle(w, err) {
		return
	}
	if res.Redirect {
		redirectTo(w, r, res.Target.HTTPURL, true)
		return
	}
	writeJSON(w, map[string]string{"brokerUrl": res.Target.PulsarURL, "httpUrl": res.Target.HTTPURL})
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
func (a *API) getSchema(w http.ResponseWriter, r *http.Request) {
	name, err := topicOf(r)
	if !handle(w, err) {
		return
	}
	version := int64(-1)
	if v := r.PathValue("version"); v != "" {
		if version, err = strconv.ParseInt(v, 10, 64); err != nil || version < 0 {
			writeReason(w, http.StatusBadRequest, "bad schema version "+strconv.Quote(v))
			return
		}
	}
	info, v, err := a.svc.Schemas.Get(r.Context(), name, version)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			writeReason(w, http.StatusNotFound, fmt.Sprintf("Schema not found: %v", err))
			return
		}
		writeError(w, err)
		return
	}
	props := info.Properties
	if props == nil {
		props = map[string]string{}
	}
	writeJSON(w, map[string]any{"version": v, "type": schemaTypeNames[info.Type], "data": string(info.Data),
		"properties": props, "timestamp": 0})
}
