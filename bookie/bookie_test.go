package bookie

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-io/strata/metadata"
	bookiev1 "github.com/strata-io/strata/proto/bookie/v1"
)

func TestStartServeRestart(t *testing.T) {
	md := etcd(t)
	cfg := baseConfig(t, md)
	cfg.HTTPAddr = "127.0.0.1:0"
	b := startBookie(t, cfg)
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || strings.HasSuffix(b.Addr(), ":0") {
		t.Fatalf("Addr %q is not the real listen address", b.Addr())
	}
	in := waitRegistration(t, md, "bookie-1", "rw")
	if in.Address != b.Addr() || in.HTTP != b.HTTPAddr() || in.ReadOnly {
		t.Fatalf("registration %+v, bookie at %s / %s", in, b.Addr(), b.HTTPAddr())
	}

	c := client(t, b.Addr())
	if got := add(t, c, 1, 0, "hello"); got != "" {
		t.Fatal(got)
	}
	resp, err := http.Get("http://" + b.HTTPAddr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Status string `json:"status"`
		ID     string `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != 200 || health.Status != "ok" || health.ID != "bookie-1" {
		t.Fatalf("health: %d %+v", resp.StatusCode, health)
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitRegistration(t, md, "bookie-1", "")

	// Same id, same data dir: the cookie matches and the entry is still there.
	cfg.HTTPAddr = ""
	b = startBookie(t, cfg)
	waitRegistration(t, md, "bookie-1", "rw")
	r, err := client(t, b.Addr()).ReadEntry(testCtx(t), &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 0})
	if err != nil || string(r.Payload) != "hello" {
		t.Fatalf("entry after restart: %v %v", r, err)
	}
}

func TestDefaultIDIsAdvertisedAddress(t *testing.T) {
	md := etcd(t)
	cfg := baseConfig(t, md)
	cfg.ID = ""
	b := startBookie(t, cfg)
	if b.ID() != b.Addr() || b.AdvertisedAddr() != b.Addr() {
		t.Fatalf("id %q advertised %q addr %q", b.ID(), b.AdvertisedAddr(), b.Addr())
	}
	cfg.ListenAddr = "0.0.0.0:0"
	cfg.DataDir = t.TempDir()
	cfg.AdvertisedAddr = "bookie.example:3181"
	b2 := startBookie(t, cfg)
	if b2.ID() != "bookie.example:3181" {
		t.Fatalf("id %q with advertised address set", b2.ID())
	}
}

func TestCookie(t *testing.T) {
	md := etcd(t)
	ctx := testCtx(t)
	fresh := func(t *testing.T, id string) Config {
		cfg := baseConfig(t, md)
		cfg.ID = id
		b, err := Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	refused := func(t *testing.T, cfg Config, wants ...string) {
		t.Helper()
		b, err := Start(ctx, cfg)
		if err == nil {
			b.Close()
			t.Fatal("started")
		}
		if !errors.Is(err, ErrCookie) {
			t.Fatalf("error %v does not wrap ErrCookie", err)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}

	t.Run("wiped data dir", func(t *testing.T) {
		cfg := fresh(t, "wiped")
		if err := os.RemoveAll(cfg.DataDir); err != nil {
			t.Fatal(err)
		}
		refused(t, cfg, `"wiped"`, "wiped", md.Keys.Cookie("wiped"))
	})
	t.Run("data dir of another bookie", func(t *testing.T) {
		a := fresh(t, "a")
		b := fresh(t, "b")
		a.DataDir = b.DataDir
		refused(t, a, `"a"`, `"b"`, "belongs to")
	})
	t.Run("data dir re-created", func(t *testing.T) {
		cfg := fresh(t, "recreated")
		os.RemoveAll(cfg.DataDir)
		other := fresh(t, "recreated-elsewhere") // a valid cookie, for another instance
		os.MkdirAll(cfg.DataDir, 0o755)
		data, _ := os.ReadFile(filepath.Join(other.DataDir, cookieFile))
		var c cookie
		json.Unmarshal(data, &c)
		c.BookieID = "recreated"
		writeDiskCookie(filepath.Join(cfg.DataDir, cookieFile), c)
		refused(t, cfg, `"recreated"`, "differs", "wiped")
	})
	t.Run("metadata reset", func(t *testing.T) {
		cfg := fresh(t, "reset")
		if err := md.Delete(ctx, md.Keys.Cookie("reset"), -1); err != nil {
			t.Fatal(err)
		}
		refused(t, cfg, `"reset"`, "metadata was reset")
	})
	t.Run("first start interrupted before etcd", func(t *testing.T) {
		cfg := baseConfig(t, md)
		cfg.ID = "interrupted"
		c := cookie{FormatVersion: cookieVersion, BookieID: "interrupted", InstanceID: newInstanceID()}
		if err := writeDiskCookie(filepath.Join(cfg.DataDir, cookieFile), c); err != nil {
			t.Fatal(err)
		}
		b, err := Start(ctx, cfg)
		if err != nil {
			t.Fatalf("start after an interrupted first start: %v", err)
		}
		b.Close()
		v, err := md.Get(ctx, md.Keys.Cookie("interrupted"))
		if err != nil || !strings.Contains(string(v.Data), c.InstanceID) {
			t.Fatalf("etcd cookie %s %v", v.Data, err)
		}
	})
	t.Run("unreadable disk cookie", func(t *testing.T) {
		cfg := fresh(t, "garbled")
		os.WriteFile(filepath.Join(cfg.DataDir, cookieFile), []byte("{not json"), 0o644)
		refused(t, cfg, "unreadable")
	})
}

// feed is an injectable disk: each value sent on ch becomes the usage from the next check
// on; a send returns once the monitor has taken the value.
type feed struct {
	ch  chan float64
	cur atomic.Uint64
}

func newFeed(initial float64) *feed {
	f := &feed{ch: make(chan float64)}
	f.cur.Store(uint64(initial * 1e6))
	return f
}

func (f *feed) usage(string) (float64, error) {
	select {
	case u := <-f.ch:
		f.cur.Store(uint64(u * 1e6))
	default:
	}
	return float64(f.cur.Load()) / 1e6, nil
}

// set makes the monitor see u, and returns once that check has been fully applied (the
// second send can only be taken by the check after it).
func (f *feed) set(t *testing.T, u float64) {
	t.Helper()
	for range 2 {
		select {
		case f.ch <- u:
		case <-time.After(failsafe):
			t.Fatal("disk monitor is not checking")
		}
	}
}

func TestDiskMonitor(t *testing.T) {
	md := etcd(t)
	cfg := baseConfig(t, md)
	disk := newFeed(0.5)
	cfg.DiskUsage = disk.usage
	cfg.DiskCheckInterval = time.Millisecond
	b := startBookie(t, cfg)
	c := client(t, b.Addr())
	waitRegistration(t, md, "bookie-1", "rw")

	steps := []struct {
		usage    float64
		readOnly bool
	}{
		{0.94, false}, // below the threshold
		{0.95, true},  // at it
		{0.93, true},  // between low water and threshold: stays (no flapping)
		{0.90, true},  // at low water: stays
		{0.89, false}, // below it
		{0.97, true},
	}
	entry := int64(0)
	for _, st := range steps {
		disk.set(t, st.usage)
		if b.ReadOnly() != st.readOnly {
			t.Fatalf("usage %.2f: read-only %v, want %v", st.usage, b.ReadOnly(), st.readOnly)
		}
		want := map[bool]string{false: "rw", true: "ro"}[st.readOnly]
		in := waitRegistration(t, md, "bookie-1", want)
		if in.ReadOnly != st.readOnly {
			t.Fatalf("registration %+v", in)
		}
		got := add(t, c, 1, entry, "x")
		if st.readOnly && got != bookiev1.ReasonReadOnly || !st.readOnly && got != "" {
			t.Fatalf("usage %.2f: add answered %q", st.usage, got)
		}
		if !st.readOnly {
			entry++
		}
	}
	// Reads are served in read-only mode.
	if _, err := c.ReadEntry(testCtx(t), &bookiev1.ReadEntryRequest{LedgerId: 1, EntryId: 0}); err != nil {
		t.Fatalf("read in read-only mode: %v", err)
	}
}

func TestForceReadOnly(t *testing.T) {
	md := etcd(t)
	cfg := baseConfig(t, md)
	cfg.ForceReadOnly = true
	b := startBookie(t, cfg)
	if !b.ReadOnly() {
		t.Fatal("not read-only")
	}
	waitRegistration(t, md, "bookie-1", "ro")
	if got := add(t, client(t, b.Addr()), 1, 0, "x"); got != bookiev1.ReasonReadOnly {
		t.Fatalf("add to a forced read-only bookie: %q", got)
	}
}

func TestStartsReadOnlyOnFullDisk(t *testing.T) {
	md := etcd(t)
	cfg := baseConfig(t, md)
	cfg.DiskUsage = func(string) (float64, error) { return 0.99, nil }
	b := startBookie(t, cfg)
	if !b.ReadOnly() {
		t.Fatal("started read-write on a full disk")
	}
	waitRegistration(t, md, "bookie-1", "ro")
}

func TestLeaseLossReregisters(t *testing.T) {
	md := etcd(t)
	b := startBookie(t, baseConfig(t, md))
	waitRegistration(t, md, "bookie-1", "rw")
	v, err := md.Get(testCtx(t), md.Keys.BookieAvailable("bookie-1", false))
	if err != nil {
		t.Fatal(err)
	}
	// Revoke the lease behind the bookie's back: the registration vanishes with it.
	if _, err := md.Client().Revoke(testCtx(t), clientLeaseID(v.Lease)); err != nil {
		t.Fatal(err)
	}
	waitRegistration(t, md, "bookie-1", "")
	in := waitRegistration(t, md, "bookie-1", "rw")
	if in.Address != b.Addr() {
		t.Fatalf("re-registration %+v", in)
	}
	v2, err := md.Get(testCtx(t), md.Keys.BookieAvailable("bookie-1", false))
	if err != nil || v2.Lease == v.Lease || v2.Lease == 0 {
		t.Fatalf("re-registered under lease %d (old %d): %v", v2.Lease, v.Lease, err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{DataDir: "/d", Etcd: metadata.Config{Endpoints: []string{"http://x:2379"}}}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"existing store instead of endpoints", func(c *Config) { c.Etcd = metadata.Config{}; c.Metadata = &metadata.Store{} }, ""},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "data dir"},
		{"no etcd", func(c *Config) { c.Etcd = metadata.Config{} }, "endpoints"},
		{"threshold over 1", func(c *Config) { c.DiskUsageThreshold = 1.5 }, "threshold"},
		{"low water above threshold", func(c *Config) { c.DiskUsageThreshold = 0.8; c.DiskUsageLowWater = 0.85 }, "low-water"},
		{"low threshold defaults low water under it", func(c *Config) { c.DiskUsageThreshold = 0.5 }, ""},
		{"short lease", func(c *Config) { c.LeaseTTL = time.Millisecond }, "lease"},
		{"negative interval", func(c *Config) { c.DiskCheckInterval = -1 }, "interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			err := c.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
