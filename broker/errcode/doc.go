// Package errcode is the broker's one table of errors: for each error of ours that can
// reach a client, the Pulsar ServerError code the binary protocol answers with
// (broker/server), the HTTP status the admin REST answers with (broker/admin), and
// whether the condition is transient — whether a client that retries, after a
// reconnect or a new lookup, can succeed without changing its request.
//
// franz-go's kerr is the model: one row per error carrying what every layer needs, so
// the layers cannot drift apart and a new error is one new row. The clients react by
// code (the Pulsar Go client matches ServerError names; HTTP clients the status), so a
// row's values are part of the protocol: changing one changes what clients do.
//
// Matching: rows are tried in order with errors.Is (sentinels) or errors.As (typed
// errors) and the first match wins. Order matters only for an error that wraps two
// errors of the table; today that is ownership.ErrNoSession wrapping the context's
// error, which answers as ErrNoSession. Rows whose answers are the defaults come last,
// so a more specific error wrapped inside them still decides. An error no row matches
// answers UnknownError, 500, not retriable.
//
// Completeness: completeness_test.go parses the source of every package whose errors
// the broker surfaces (one slice, ErrorPackages) and fails when an exported error there
// has no row here. Each layer may still answer a condition that is not one of these
// errors (a malformed request, an unknown producer id) with a code of its own.
package errcode
