package metadatatest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// GoldenJSON checks a frozen fixture of a JSON record that Strata stores in etcd (or on
// disk): testdata/<file> must decode (encoding/json) to a value equal to want, and want
// must encode (json.Marshal, as the writers do) to exactly the fixture's bytes. A change
// to the record's Go type that would read old data differently, or write new data
// differently, fails the test. Fixtures are stored data: never regenerate one to make a
// test pass; version the format instead.
func GoldenJSON[T any](t testing.TB, file string, want T) {
	t.Helper()
	path := filepath.Join("testdata", file)
	fixture, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got T
	if err := json.Unmarshal(fixture, &got); err != nil {
		t.Fatalf("%s: decode: %v", path, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s decodes to\n%+v\nwant\n%+v", path, got, want)
	}
	enc, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, fixture) {
		t.Errorf("encoding changed:\n%s\nfixture %s:\n%s", enc, path, fixture)
	}
}
