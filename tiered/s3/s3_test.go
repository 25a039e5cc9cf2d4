package s3_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/testenv"
	"github.com/strata-io/strata/tiered"
	tiereds3 "github.com/strata-io/strata/tiered/s3"
	"github.com/strata-io/strata/tiered/s3/s3test"
	"github.com/strata-io/strata/tiered/tieredtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The multipart settings of the tests: S3's minimum part, so LargeSize goes up in 3 parts.
const partSize = tiereds3.MinPartSize

func TestConformanceVersitygwHTTP(t *testing.T) {
	srv := s3test.Start(t, false)
	tieredtest.Run(t, func(t *testing.T) tiered.ObjectStore {
		return srv.Store(t, testenv.Context(t, time.Minute), partSize, partSize)
	}, tieredtest.Options{})
}

func TestConformanceVersitygwHTTPS(t *testing.T) {
	srv := s3test.Start(t, true)
	if !strings.HasPrefix(srv.Endpoint, "https://") {
		t.Fatalf("TLS server endpoint %q", srv.Endpoint)
	}
	tieredtest.Run(t, func(t *testing.T) tiered.ObjectStore {
		return srv.Store(t, testenv.Context(t, time.Minute), partSize, partSize)
	}, tieredtest.Options{})
}

// TestConformanceGofakes3 runs the suite against the in-process fake over TLS, the
// transport on which the SDK's default checksum mode corrupts uploads on lenient servers.
func TestConformanceGofakes3(t *testing.T) {
	backend := s3mem.New()
	fake := gofakes3.New(backend).Server()
	// Record any request that carries the SDK's default integrity framing: with the
	// checksum policy New sets, none may (that framing is what lenient servers store).
	var mu sync.Mutex
	var framed []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header; strings.Contains(h.Get("Content-Encoding"), "aws-chunked") ||
			h.Get("X-Amz-Trailer") != "" || h.Get("X-Amz-Sdk-Checksum-Algorithm") != "" {
			mu.Lock()
			framed = append(framed, r.Method+" "+r.URL.Path)
			mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if len(framed) > 0 {
			t.Errorf("%d requests sent with aws-chunked/trailer checksums, e.g. %s", len(framed), framed[0])
		}
	})
	caFile := writeServerCA(t, srv)
	n := 0
	tieredtest.Run(t, func(t *testing.T) tiered.ObjectStore {
		n++
		bucket := "bucket-" + strings.Repeat("x", n)
		if err := backend.CreateBucket(context.Background(), bucket); err != nil {
			t.Fatal(err)
		}
		st, err := tiereds3.New(testenv.Context(t, time.Minute), tiereds3.Config{
			Endpoint: srv.URL, Bucket: bucket, AccessKeyID: "AK", SecretAccessKey: "SK",
			CAFile: caFile, PartSize: partSize, MultipartThreshold: partSize,
		})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}, tieredtest.Options{})
}

// TestTLSRoundTripMultipart puts an object through a multipart upload to versitygw over
// TLS and reads it back byte-equal, with the server's copy on disk checked too: what the
// SDK sent is exactly what was stored, with no chunk framing or trailer kept.
func TestTLSRoundTripMultipart(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	srv := s3test.Start(t, true)
	bucket := srv.NewBucket(t)
	cfg := srv.Config(bucket)
	cfg.PartSize, cfg.MultipartThreshold = partSize, partSize
	st, err := tiereds3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.Rand(t)
	for _, size := range []int{64 << 10, 2*partSize + 10} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		key := "tls/object"
		if err := st.Put(ctx, key, bytes.NewReader(data)); err != nil {
			t.Fatalf("Put %d bytes: %v", size, err)
		}
		got, err := st.GetRange(ctx, key, 0, int64(size))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%d bytes over TLS: read back %d bytes that differ", size, len(got))
		}
		onDisk := readFile(t, srv.Root+"/"+bucket+"/"+key)
		if !bytes.Equal(onDisk, data) {
			t.Fatalf("%d bytes over TLS: server stored %d bytes that differ", size, len(onDisk))
		}
		etag := headETag(t, ctx, st, key)
		if multipart := strings.Contains(etag, "-"); multipart != (size > partSize) {
			t.Fatalf("%d bytes: ETag %s; want multipart=%v", size, etag, size > partSize)
		}
	}
}
