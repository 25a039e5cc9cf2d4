package s3

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ETag exposes an object's ETag to the tests, which tell a multipart upload by its "-N".
func (s *Store) ETag(ctx context.Context, key string) (string, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}
