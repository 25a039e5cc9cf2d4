package bookie

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-io/strata/metadata/metadatatest"
)

// The cookie is stored twice, compact in etcd and indented in DataDir/COOKIE
// (docs/format/bookie.md); both encodings are frozen.
func TestCookieGolden(t *testing.T) {
	c := cookie{FormatVersion: cookieVersion, BookieID: "bookie-1", InstanceID: "5f0c3e1a9b7d4c2e8a6f1b3d5e7c9a0b"}
	metadatatest.GoldenJSON(t, "cookie-etcd.json", c)

	fixture, err := os.ReadFile(filepath.Join("testdata", cookieFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parseCookie(fixture, "fixture"); err != nil || got != c {
		t.Errorf("disk fixture parses to %+v, %v; want %+v", got, err, c)
	}
	path := filepath.Join(t.TempDir(), cookieFile)
	if err := writeDiskCookie(path, c); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, fixture) {
		t.Errorf("writeDiskCookie wrote\n%s\nwant (fixture)\n%s", written, fixture)
	}
}
