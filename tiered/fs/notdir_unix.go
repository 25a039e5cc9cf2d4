//go:build unix

package fs

import "syscall"

// notDir is the error of a path whose parent is a file ("a/b" while "a" is an object).
var notDir = syscall.ENOTDIR
