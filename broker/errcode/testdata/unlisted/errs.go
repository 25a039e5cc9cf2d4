// Package unlisted is input for TestCompletenessCheckerFindsUnlisted: the table knows
// ErrListed and ListedError only.
package unlisted

import (
	"errors"
	"fmt"
)

var (
	ErrListed   = errors.New("unlisted: listed")
	ErrUnlisted = fmt.Errorf("unlisted: not listed")
	errPrivate  = errors.New("unlisted: unexported, not a row")
	NotAnError  = "unlisted: a string"
)

var ErrAlone = errors.New("unlisted: declared alone")

type ListedError struct{}

func (*ListedError) Error() string { return "listed" }

type UnlistedError struct{ Code int }

func (e UnlistedError) Error() string { return fmt.Sprint("unlisted ", e.Code) }

// notExported has an Error method but is not exported.
type notExported struct{}

func (notExported) Error() string { return "private" }

// Stringer has a method named Error that is not error's.
type Stringer struct{}

func (Stringer) Error(n int) string { return "" }

var _ = errPrivate
