package main

import (
	"errors"
	"fmt"

	"github.com/aiofs/aiofs/internal/s3test"
)

// openS3 makes the s3 store: SeaweedFS's S3 gateway (internal/s3test) on
// 127.0.0.1 with its data in a temporary directory, and one client of it
// through a delay proxy of cfg.delay each way. weed must have been built
// (go run ./internal/s3test/buildweed, once, some minutes).
func openS3(_ string, cfg *config) (*opened, error) {
	bin, err := s3test.Binary(false)
	if errors.Is(err, s3test.ErrNotBuilt) {
		return nil, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	if err != nil {
		return nil, err
	}
	srv, err := s3test.Start(bin)
	if err != nil {
		return nil, err
	}
	conn, err := srv.Dial(cfg.delay)
	if err != nil {
		return nil, errors.Join(err, srv.Close())
	}
	fs, err := conn.Fs("compare", "")
	if err != nil {
		return nil, errors.Join(err, srv.Close())
	}
	about := fmt.Sprintf("SeaweedFS's S3 gateway at %s", srv.Addr())
	if cfg.delay > 0 {
		about += fmt.Sprintf(", through a delay proxy of %v each way", cfg.delay)
	}
	return &opened{fs: fs, dir: ".", about: about, close: srv.Close}, nil
}
