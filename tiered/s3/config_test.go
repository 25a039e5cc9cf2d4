package s3_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/tiered"
	tiereds3 "github.com/strata-io/strata/tiered/s3"
	"github.com/strata-io/strata/tiered/s3/s3test"
)

func TestConfigValidate(t *testing.T) {
	ok := tiereds3.Config{Endpoint: "http://127.0.0.1:1", Bucket: "b"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if ok.Region != "us-east-1" || ok.PartSize != 8<<20 || ok.MultipartThreshold != 16<<20 {
		t.Fatalf("defaults not filled: %+v", ok)
	}
	for name, mutate := range map[string]func(*tiereds3.Config){
		"no endpoint":      func(c *tiereds3.Config) { c.Endpoint = "" },
		"not a URL":        func(c *tiereds3.Config) { c.Endpoint = "127.0.0.1:9000" },
		"no bucket":        func(c *tiereds3.Config) { c.Bucket = "" },
		"half credentials": func(c *tiereds3.Config) { c.AccessKeyID = "AK" },
		"tiny parts":       func(c *tiereds3.Config) { c.PartSize = 1 << 20 },
		"bad threshold":    func(c *tiereds3.Config) { c.MultipartThreshold = -1 },
	} {
		c := tiereds3.Config{Endpoint: "http://127.0.0.1:1", Bucket: "b"}
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
	if _, err := tiereds3.New(testenv.Context(t, time.Minute), tiereds3.Config{
		Endpoint: "https://127.0.0.1:1", Bucket: "b", CAFile: filepath.Join(t.TempDir(), "missing.pem"),
	}); err == nil {
		t.Fatal("New accepted a CA file that does not exist")
	}
}

// isolateAWSEnv keeps the machine's own AWS settings out of a test.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // never reach for a cloud metadata address
}

func roundTrip(t *testing.T, cfg tiereds3.Config) error {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	st, err := tiereds3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "creds/probe", bytes.NewReader([]byte("probe"))); err != nil {
		return err
	}
	got, err := st.GetRange(ctx, "creds/probe", 0, 5)
	if err != nil {
		return err
	}
	if string(got) != "probe" {
		t.Fatalf("read back %q", got)
	}
	return nil
}

func TestCredentialSources(t *testing.T) {
	srv := s3test.Start(t, false)
	t.Run("environment", func(t *testing.T) {
		isolateAWSEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
		cfg := srv.Config(srv.NewBucket(t))
		cfg.AccessKeyID, cfg.SecretAccessKey = "", ""
		if err := roundTrip(t, cfg); err != nil {
			t.Fatalf("credentials from the environment: %v", err)
		}
	})
	t.Run("shared file profile", func(t *testing.T) {
		isolateAWSEnv(t)
		creds := "[strata]\naws_access_key_id = " + s3test.AccessKey + "\naws_secret_access_key = " + s3test.SecretKey + "\n"
		if err := os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), []byte(creds), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := srv.Config(srv.NewBucket(t))
		cfg.AccessKeyID, cfg.SecretAccessKey, cfg.Profile = "", "", "strata"
		if err := roundTrip(t, cfg); err != nil {
			t.Fatalf("credentials from the shared file: %v", err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		isolateAWSEnv(t)
		cfg := srv.Config(srv.NewBucket(t))
		cfg.SecretAccessKey = "not-the-secret"
		err := roundTrip(t, cfg)
		if err == nil || errors.Is(err, tiered.ErrNotFound) {
			t.Fatalf("wrong secret: %v, want an access error", err)
		}
	})
}

func TestUntrustedServerCertificate(t *testing.T) {
	srv := s3test.Start(t, true)
	cfg := srv.Config(srv.NewBucket(t))
	cfg.CAFile = "" // the system roots do not know the test CA
	err := roundTrip(t, cfg)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("server with an unknown CA: %v, want a certificate error", err)
	}
}

// TestServerDown: with the server gone, every operation fails with an error (after the
// SDK's retries) instead of hanging or reporting the object missing.
func TestServerDown(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	srv := s3test.Start(t, false)
	st := srv.Store(t, ctx, tiereds3.MinPartSize, tiereds3.MinPartSize)
	if err := st.Put(ctx, "k", bytes.NewReader([]byte("v"))); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := st.Put(ctx, "k2", bytes.NewReader([]byte("v"))); err == nil {
		t.Fatal("Put succeeded with the server down")
	}
	if _, err := st.GetRange(ctx, "k", 0, 1); err == nil || errors.Is(err, tiered.ErrNotFound) {
		t.Fatalf("GetRange with the server down: %v", err)
	}
	if _, err := st.Stat(ctx, "k"); err == nil || errors.Is(err, tiered.ErrNotFound) {
		t.Fatalf("Stat with the server down: %v", err)
	}
	for _, err := range st.List(ctx, "") {
		if err == nil {
			t.Fatal("List yielded an object with the server down")
		}
	}
}
