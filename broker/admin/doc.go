// Package admin serves Pulsar's admin v2 REST API (/admin/v2/...) and HTTP lookup
// (/lookup/v2/...) over the broker's topic service, with Pulsar's paths and JSON shapes,
// so that pulsaradmin, pulsar-admin and pulsarctl work against a Strata broker.
//
// Handlers are thin: they parse and validate the request (names, body, query), call
// broker/service, and render the answer. Errors go through one table (errors.go) that
// maps service and metadata errors to HTTP statuses with Pulsar's {"reason": "..."}
// body.
//
// Invariants:
//   - A client mistake (bad name, bad JSON, out-of-range value, unknown resource) is a
//     4xx, never a 500, and is detected before anything is written: every handler
//     validates fully before its first state change.
//   - Paths with "." or ".." segments (also percent-encoded) are refused with 400 before
//     routing (Guard), instead of being redirected to a cleaned path.
package admin
