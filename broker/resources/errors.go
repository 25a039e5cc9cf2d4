package resources

import "errors"

// The sentinels keep the "service:" prefix of their messages: they moved here from
// broker/service unchanged, and clients and admin tools may match on the text.
var (
	// ErrNotFound: the tenant, namespace or topic does not exist.
	ErrNotFound = errors.New("service: not found")
	// ErrNotEmpty: a tenant that still has namespaces, or a namespace that still has topics,
	// cannot be deleted.
	ErrNotEmpty = errors.New("service: not empty")
	// ErrPartitionsNotIncreased: a partitioned topic's partition count can only grow.
	ErrPartitionsNotIncreased = errors.New("service: the partition count can only be increased")
	// ErrTopicNotFound: the topic does not exist and may not be auto-created.
	ErrTopicNotFound = errors.New("service: topic not found")
	// ErrSchemaNotFound: the topic has no schema, or none at the requested version.
	ErrSchemaNotFound = errors.New("service: schema not found")
)
