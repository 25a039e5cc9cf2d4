package proc

import (
	"os"
	"testing"
)

func TestRSS(t *testing.T) {
	got, err := RSS(os.Getpid())
	if err != nil || got <= 0 {
		t.Fatalf("RSS of this test process = %d, %v", got, err)
	}
	// A zombie's status has no VmRSS line.
	if _, err := parseVmRSS("Name:\tstrata\nState:\tZ (zombie)\nTgid:\t31836\n"); err == nil {
		t.Fatal("no VmRSS line: want an error")
	}
}
