package s3fs

import (
	"errors"
	"net/http"
	"syscall"

	"github.com/minio/minio-go/v7"

	"github.com/aiofs/aiofs/internal/remotefile"
)

// ErrUnsupported is the cause of the errors of Chmod, Chown, Chtimes and
// symbolic links: S3 keeps no mode, owner or settable times. It matches
// errors.ErrUnsupported.
var ErrUnsupported = errors.ErrUnsupported

// pathError returns err as the *fs.PathError os would return for op on
// name, its cause made os's errno where S3's answer says which; nil for
// nil.
func pathError(op, name string, err error) error {
	return remotefile.PathError(op, name, cause(err))
}

// cause returns the errno os would give for what the server said, so
// that errors.Is and the messages match OsFs: a missing key or bucket is
// ENOENT, a refusal EACCES. Other server errors keep the
// minio.ErrorResponse, and transport errors (a refused or cut
// connection, a timeout) stay as the HTTP client gave them.
func cause(err error) error {
	err = remotefile.Bare(err)
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return err
	}
	switch {
	case er.Code == "NoSuchKey" || er.Code == "NoSuchBucket" || er.StatusCode == http.StatusNotFound:
		return syscall.ENOENT
	case er.Code == "AccessDenied" || er.StatusCode == http.StatusForbidden:
		return syscall.EACCES
	}
	return err
}

// notFound reports whether err is the server's answer that a key (or the
// bucket) does not exist.
func notFound(err error) bool {
	return errors.Is(cause(err), syscall.ENOENT)
}

// badRange reports whether err is the server's answer to a ranged GET
// that starts at or past the end of the object.
func badRange(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == "InvalidRange" || er.StatusCode == http.StatusRequestedRangeNotSatisfiable)
}
