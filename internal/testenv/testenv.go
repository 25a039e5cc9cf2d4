// Package testenv holds the two things every test package here needs the same way: a
// context bounded by a failsafe, and a seeded random source whose seed is printed when
// the test fails and can be replayed with one environment variable.
//
// It imports nothing of ours, so any package's tests may use it.
package testenv

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// SeedVar is the environment variable that replays a seed: STRATA_TEST_SEED=n.
const SeedVar = "STRATA_TEST_SEED"

// Context returns a context cancelled when the test ends or after failsafe, whichever
// comes first. The failsafe only bounds a test that hangs; nothing waits on it.
func Context(t testing.TB, failsafe time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	t.Cleanup(cancel)
	return ctx
}

// Seed returns the test's random seed: STRATA_TEST_SEED if set, else a fresh one. The
// seed is logged if the test fails, so a failure can be replayed.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv(SeedVar); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", SeedVar, err)
		}
		seed = n
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random seed: %s=%d", SeedVar, seed)
		}
	})
	return seed
}

// Rand returns a random source seeded with Seed(t).
func Rand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := Seed(t)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
