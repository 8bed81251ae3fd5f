package s3fs

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Dial returns an Fs over the bucket and prefix rawURL names:
// s3://host[:port]/bucket[/prefix] over HTTPS, or s3+http:// for a
// gateway that speaks plain HTTP (one on this machine, say). The keys
// are AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN), anonymous when unset; the region is AWS_REGION,
// us-east-1 when unset. The Fs's Close closes the client's idle
// connections.
func Dial(rawURL string) (*Fs, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("s3fs: %w", err)
	}
	secure := u.Scheme == "s3"
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if u.Scheme != "s3" && u.Scheme != "s3+http" || u.Host == "" || bucket == "" {
		return nil, fmt.Errorf("s3fs: %q is not an s3://host[:port]/bucket[/prefix] or s3+http:// URL", rawURL)
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 64, // readahead and flushes run many requests at once
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")),
		Secure:    secure,
		Region:    region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("s3fs: %w", err)
	}
	fsys := New(c, bucket, prefix)
	fsys.closer = tr.CloseIdleConnections
	return fsys, nil
}
