package testenv

import (
	"testing"
	"time"
)

func TestSeedReplays(t *testing.T) {
	t.Setenv(SeedVar, "42")
	a, b := Rand(t), Rand(t)
	for range 8 {
		if x, y := a.Uint64(), b.Uint64(); x != y {
			t.Fatalf("same seed, different draws: %d != %d", x, y)
		}
	}
}

func TestSeedRejectsGarbage(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	t.Setenv(SeedVar, "not-a-number")
	func() {
		defer func() { recover() }()
		Seed(ft)
	}()
	if !ft.fataled {
		t.Fatal("a malformed seed was accepted")
	}
}

func TestContextEndsWithTest(t *testing.T) {
	var ctx interface{ Err() error }
	t.Run("inner", func(t *testing.T) { ctx = Context(t, time.Hour) })
	if ctx.Err() == nil {
		t.Fatal("context still live after its test ended")
	}
}

type fatalRecorder struct {
	testing.TB
	fataled bool
}

func (f *fatalRecorder) Fatalf(string, ...any) { f.fataled = true; panic("fatal") }
func (f *fatalRecorder) Helper()               {}
func (f *fatalRecorder) Cleanup(func())        {}
