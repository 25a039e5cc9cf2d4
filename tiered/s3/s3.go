// Package s3 is the tiered.ObjectStore on an S3-compatible server (AWS S3, versitygw,
// MinIO, Ceph RGW …), through aws-sdk-go-v2.
//
// New is the only constructor, used by production and by every test alike, because the
// settings that make S3-compatible servers work are easy to lose in a second code path:
//
//   - path-style addressing and an explicit endpoint (no virtual-host bucket DNS);
//   - the SDK's request checksums and response checksum validation set to "when
//     required". Since service/s3 v1.73 the SDK otherwise sends aws-chunked bodies with
//     trailing CRC32s over TLS, which some servers store verbatim (silent corruption),
//     and loading the default config silently switches the mode on. Integrity is not
//     left to the transport: the offload format carries a CRC32C per block, verified on
//     every read.
//   - objects above MultipartThreshold go up as a multipart upload in PartSize parts,
//     aborted if anything fails, so at most PartSize (+ the threshold's first read) of an
//     object is ever in memory.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/strata-io/strata/tiered"
)

// Part-size limits of S3: every part but the last is at least 5 MiB; at most 10,000 parts.
const (
	MinPartSize = 5 << 20
	maxParts    = 10_000
)

// Config says where the bucket is and how to reach it.
type Config struct {
	// Endpoint is the server's base URL, e.g. "https://s3.example.com:9000". Required: the
	// store never guesses an AWS endpoint.
	Endpoint string
	// Region is signed into every request. Default "us-east-1".
	Region string
	// Bucket must already exist.
	Bucket string

	// AccessKeyID and SecretAccessKey are static credentials. When both are empty the
	// SDK's default chain is used: the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment
	// variables, then the shared credentials and config files (AWS_SHARED_CREDENTIALS_FILE,
	// AWS_CONFIG_FILE, ~/.aws/…) under Profile, then the platform's role providers.
	AccessKeyID     string
	SecretAccessKey string
	// Profile selects the shared config profile when credentials are not static.
	Profile string

	// CAFile is a PEM bundle of CAs to trust for an https Endpoint in place of the
	// system's roots (a private CA, or a test CA).
	CAFile string

	// MultipartThreshold: objects larger than this go up as multipart uploads. Default
	// 16 MiB.
	MultipartThreshold int64
	// PartSize of a multipart upload, at least MinPartSize. Default 8 MiB. An object may
	// have at most 10,000 parts, so PartSize bounds the largest object (80 GB at 8 MiB).
	PartSize int64
}

// Validate fills defaults and checks the config.
func (c *Config) Validate() error {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.MultipartThreshold == 0 {
		c.MultipartThreshold = 16 << 20
	}
	if c.PartSize == 0 {
		c.PartSize = 8 << 20
	}
	switch {
	case c.Endpoint == "":
		return errors.New("s3: no endpoint")
	case !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://"):
		return fmt.Errorf("s3: endpoint %q is not an http:// or https:// URL", c.Endpoint)
	case c.Bucket == "":
		return errors.New("s3: no bucket")
	case (c.AccessKeyID == "") != (c.SecretAccessKey == ""):
		return errors.New("s3: access key id and secret access key go together")
	case c.PartSize < MinPartSize:
		return fmt.Errorf("s3: part size %d below S3's minimum %d", c.PartSize, MinPartSize)
	case c.MultipartThreshold < 1:
		return fmt.Errorf("s3: multipart threshold %d must be positive", c.MultipartThreshold)
	}
	return nil
}

// Store is a bucket on an S3-compatible server. It is safe for concurrent use; the SDK
// client it wraps pools connections.
type Store struct {
	client    *s3.Client
	bucket    string
	threshold int64
	partSize  int64
}

var _ tiered.ObjectStore = (*Store)(nil)

// New returns a store for cfg's bucket. It does no network I/O.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		// See the package doc: set here, once, for production and tests alike.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("s3: CA bundle: %w", err)
		}
		opts = append(opts, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.BaseEndpoint = aws.String(cfg.Endpoint)
		// The SDK logs a warning for every GET it does not validate; under WhenRequired
		// that is every GET, by design.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &Store{client: client, bucket: cfg.Bucket, threshold: cfg.MultipartThreshold, partSize: cfg.PartSize}, nil
}

// Put implements tiered.ObjectStore. It reads up to MultipartThreshold bytes; a body that
// ends within them is sent as one PutObject, anything longer as a multipart upload.
func (s *Store) Put(ctx context.Context, key string, body io.Reader) error {
	if err := tiered.CheckKey(key); err != nil {
		return err
	}
	// The buffer grows with the body, so a small object costs only its size.
	var head bytes.Buffer
	n, err := io.CopyN(&head, body, s.threshold+1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("s3: put %q: %w", key, err)
	}
	if n <= s.threshold {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &s.bucket,
			Key:           &key,
			Body:          bytes.NewReader(head.Bytes()),
			ContentLength: aws.Int64(n),
		})
		return s.wrap("put", key, err)
	}
	return s.putMultipart(ctx, key, io.MultiReader(&head, body))
}

func (s *Store) putMultipart(ctx context.Context, key string, body io.Reader) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return s.wrap("put", key, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx has ended, but do not hang on a dead server: an upload
		// left behind is invisible and expires by the bucket's lifecycle rule.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: up.UploadId})
	}()
	var parts []types.CompletedPart
	buf := make([]byte, s.partSize)
	for num := int32(1); ; num++ {
		n, rerr := io.ReadFull(body, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return fmt.Errorf("s3: put %q: %w", key, rerr)
		}
		if n > 0 {
			if num > maxParts {
				return fmt.Errorf("s3: put %q: more than %d parts of %d bytes", key, maxParts, s.partSize)
			}
			out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket:        &s.bucket,
				Key:           &key,
				UploadId:      up.UploadId,
				PartNumber:    aws.Int32(num),
				Body:          bytes.NewReader(buf[:n]),
				ContentLength: aws.Int64(int64(n)),
			})
			if err != nil {
				return s.wrap("put", key, err)
			}
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		}
		if rerr != nil { // EOF: the body is done
			break
		}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             &key,
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return s.wrap("put", key, err)
}

// GetRange implements tiered.ObjectStore.
func (s *Store) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	if err := tiered.CheckKey(key); err != nil {
		return nil, err
	}
	if length <= 0 || off < 0 {
		return nil, fmt.Errorf("%w: %q [%d, +%d)", tiered.ErrInvalidRange, key, off, length)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.bucket,
		Key:    &key,
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1)),
	})
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	defer out.Body.Close()
	if out.ContentRange == nil && off > 0 {
		// A 200 with the whole object: the server ignored Range. Refuse rather than
		// hand back the wrong bytes.
		return nil, fmt.Errorf("s3: get %q: server ignored the Range header", key)
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, length))
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	if len(b) == 0 {
		// Some servers answer a range of an empty object with 200 and no bytes.
		return nil, fmt.Errorf("%w: %q [%d, +%d) of an empty object", tiered.ErrInvalidRange, key, off, length)
	}
	return b, nil
}

// Stat implements tiered.ObjectStore.
func (s *Store) Stat(ctx context.Context, key string) (tiered.ObjectInfo, error) {
	if err := tiered.CheckKey(key); err != nil {
		return tiered.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return tiered.ObjectInfo{}, s.wrap("stat", key, err)
	}
	return tiered.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength)}, nil
}

// List implements tiered.ObjectStore with ListObjectsV2, one page (up to 1,000 keys) at a
// time. S3 lists in UTF-8 byte order, which is the order of the keys as Go strings.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[tiered.ObjectInfo, error] {
	return func(yield func(tiered.ObjectInfo, error) bool) {
		in := &s3.ListObjectsV2Input{Bucket: &s.bucket}
		if prefix != "" {
			in.Prefix = &prefix
		}
		pages := s3.NewListObjectsV2Paginator(s.client, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(tiered.ObjectInfo{}, s.wrap("list", prefix, err))
				return
			}
			for _, obj := range page.Contents {
				key := aws.ToString(obj.Key)
				if strings.HasSuffix(key, "/") {
					continue // a "directory" marker some servers report; never one of ours
				}
				if !yield(tiered.ObjectInfo{Key: key, Size: aws.ToInt64(obj.Size)}, nil) {
					return
				}
			}
		}
	}
}

// Delete implements tiered.ObjectStore. S3's DeleteObject already succeeds for a missing
// key; a server that answers NoSuchKey instead is treated the same.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := tiered.CheckKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if err = s.wrap("delete", key, err); errors.Is(err, tiered.ErrNotFound) {
		return nil
	}
	return err
}

// wrap maps the SDK's errors onto tiered's: a missing object is ErrNotFound (GetObject
// says NoSuchKey, HeadObject only a bare 404), an unsatisfiable range ErrInvalidRange.
func (s *Store) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%w: %q (s3 %s)", tiered.ErrNotFound, key, op)
		case "InvalidRange":
			return fmt.Errorf("%w: %q (s3 %s)", tiered.ErrInvalidRange, key, op)
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch respErr.HTTPStatusCode() {
		case http.StatusNotFound:
			if apiErr == nil || apiErr.ErrorCode() != "NoSuchBucket" {
				return fmt.Errorf("%w: %q (s3 %s)", tiered.ErrNotFound, key, op)
			}
		case http.StatusRequestedRangeNotSatisfiable:
			return fmt.Errorf("%w: %q (s3 %s)", tiered.ErrInvalidRange, key, op)
		}
	}
	return fmt.Errorf("s3: %s %q in bucket %q: %w", op, key, s.bucket, err)
}
