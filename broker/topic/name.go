// Package topic parses and validates Pulsar topic names.
//
// A full name is `{persistent|non-persistent}://tenant/namespace/local`. Clients
// normalise short forms before they send them (`t` → `persistent://public/default/t`,
// `a/b/t` → `persistent://a/b/t`); we accept the same short forms for admin and CLI
// input. A partition of a partitioned topic is the internal topic `<local>-partition-<i>`.
package topic

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Domain is the topic's persistence domain.
type Domain string

const (
	Persistent    Domain = "persistent"
	NonPersistent Domain = "non-persistent"
)

// PartitionSuffix separates a partitioned topic's name from the partition index.
const PartitionSuffix = "-partition-"

// ErrInvalidName: the string is not a valid topic, namespace or tenant name.
var ErrInvalidName = errors.New("topic: invalid name")

// Name is a parsed, validated topic name.
type Name struct {
	Domain    Domain
	Tenant    string
	Namespace string // the namespace's local part, without the tenant
	Local     string // the topic's local name, including any -partition-<i> suffix
}

// Parse accepts a full or short topic name.
func Parse(s string) (Name, error) {
	orig := s
	d := Persistent
	if i := strings.Index(s, "://"); i >= 0 {
		switch Domain(s[:i]) {
		case Persistent, NonPersistent:
			d = Domain(s[:i])
		default:
			return Name{}, fmt.Errorf("%w: %q: unknown domain %q", ErrInvalidName, orig, s[:i])
		}
		s = s[i+3:]
		parts := strings.SplitN(s, "/", 3)
		if len(parts) != 3 {
			return Name{}, fmt.Errorf("%w: %q: want %s://tenant/namespace/topic", ErrInvalidName, orig, d)
		}
		return newName(orig, d, parts[0], parts[1], parts[2])
	}
	parts := strings.SplitN(s, "/", 3)
	switch len(parts) {
	case 1:
		return newName(orig, d, "public", "default", parts[0])
	case 3:
		return newName(orig, d, parts[0], parts[1], parts[2])
	default:
		return Name{}, fmt.Errorf("%w: %q: want topic or tenant/namespace/topic", ErrInvalidName, orig)
	}
}

func newName(orig string, d Domain, tenant, ns, local string) (Name, error) {
	if err := ValidateTenant(tenant); err != nil {
		return Name{}, fmt.Errorf("%w (in %q)", err, orig)
	}
	if err := validateNamespaceLocal(ns); err != nil {
		return Name{}, fmt.Errorf("%w (in %q)", err, orig)
	}
	if err := validateLocal(local); err != nil {
		return Name{}, fmt.Errorf("%w (in %q)", err, orig)
	}
	return Name{Domain: d, Tenant: tenant, Namespace: ns, Local: local}, nil
}

// String is the full name, e.g. persistent://public/default/t.
func (n Name) String() string {
	return string(n.Domain) + "://" + n.Tenant + "/" + n.Namespace + "/" + n.Local
}

// NamespaceName is tenant/namespace.
func (n Name) NamespaceName() string { return n.Tenant + "/" + n.Namespace }

// PartitionIndex is the i of a `-partition-<i>` name, or -1.
func (n Name) PartitionIndex() int {
	i := strings.LastIndex(n.Local, PartitionSuffix)
	if i < 0 {
		return -1
	}
	p, err := strconv.Atoi(n.Local[i+len(PartitionSuffix):])
	if err != nil || p < 0 {
		return -1
	}
	return p
}

// IsPartition reports whether the name is a partition of a partitioned topic.
func (n Name) IsPartition() bool { return n.PartitionIndex() >= 0 }

// Partition returns the name of partition i of this topic.
func (n Name) Partition(i int) Name {
	p := n
	p.Local = n.Local + PartitionSuffix + strconv.Itoa(i)
	return p
}

// Base returns the partitioned topic's name for a partition, or the name itself.
func (n Name) Base() Name {
	if !n.IsPartition() {
		return n
	}
	b := n
	b.Local = n.Local[:strings.LastIndex(n.Local, PartitionSuffix)]
	return b
}

// ValidateTenant checks a tenant name: letters, digits, '-', '_', '.', ':'; 1-255 chars.
func ValidateTenant(s string) error { return validateSegment("tenant", s) }

// ValidateNamespace checks "tenant/namespace".
func ValidateNamespace(s string) error {
	t, ns, ok := strings.Cut(s, "/")
	if !ok {
		return fmt.Errorf("%w: namespace %q: want tenant/namespace", ErrInvalidName, s)
	}
	if err := ValidateTenant(t); err != nil {
		return err
	}
	return validateNamespaceLocal(ns)
}

func validateNamespaceLocal(s string) error { return validateSegment("namespace", s) }

// Pulsar allows [-=:.\w] in tenant and namespace names.
func validateSegment(what, s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("%w: %s %q must be 1-255 characters", ErrInvalidName, what, s)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%w: %s %q", ErrInvalidName, what, s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == ':' || r == '=') {
			return fmt.Errorf("%w: %s %q contains %q", ErrInvalidName, what, s, r)
		}
	}
	return nil
}

// A topic's local name may contain most characters but no '/', control characters, or
// be "." / ".." (which would escape paths in admin URLs and metadata keys).
func validateLocal(s string) error {
	if s == "" || len(s) > 1024 {
		return fmt.Errorf("%w: topic %q must be 1-1024 characters", ErrInvalidName, s)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%w: topic %q", ErrInvalidName, s)
	}
	for _, r := range s {
		if r == '/' || r < 0x20 || r == 0x7f || r == '%' {
			return fmt.Errorf("%w: topic %q contains %q", ErrInvalidName, s, r)
		}
	}
	return nil
}
