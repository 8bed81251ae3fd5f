// Command fileserver serves a directory over HTTP through aiofs:
//
//	http.FileServer(afero.NewHttpFs(aiofs.New()).Dir(root))
//
// with names beginning with a dot hidden unless -dotfiles is given.
//
// It is the smallest real program over aiofs and the README's "run the main
// job" command:
//
//	go run ./examples/fileserver -root /srv/www -addr 127.0.0.1:8080
//
// Flags:
//
//	-root     directory to serve (default "."); not with a remote backend
//	-addr     address to listen on (default "127.0.0.1:8080"); port 0 picks
//	          a free port, and the address actually used is printed
//	-backend  "aiofs" (default), "os" (afero.OsFs), to compare the two,
//	          sftp://[user@]host[:port][/path] to serve a remote directory,
//	          or s3://host[:port]/bucket[/prefix] to serve a bucket
//	-dotfiles serve files and directories whose names begin with a dot,
//	          which are hidden by default (they answer 404 and are left out
//	          of listings): serving "." would otherwise publish .git
//
// With -backend sftp://user@host:port/path it serves the directory path on
// that SSH server (the login directory when the URL has no path; the port
// is 22 and the user the current one when left out) through
//
//	aiofs.Wrap(sftpfs.Dial(url))
//
// so that files are read ahead in parallel requests and cached instead of
// costing a round trip per read. The URL's path is the root: giving -root
// as well is an error, as it would be unclear which one is meant. Dot-files
// are hidden all the same. The login works as ssh's does without a
// password: with ~/.ssh/id_ed25519, id_ecdsa or id_rsa (without a
// passphrase) or the keys of the ssh-agent at SSH_AUTH_SOCK, whose public
// key is in ~user/.ssh/authorized_keys on the server, and with the server's
// host key in ~/.ssh/known_hosts (ssh user@host once, or
// ssh-keyscan -p port host >> ~/.ssh/known_hosts after checking the key's
// fingerprint). The server must offer the sftp subsystem, as OpenSSH does
// by default:
//
//	go run ./examples/fileserver -backend sftp://alice@files.example.com/srv/www
//
// With -backend s3://host[:port]/bucket[/prefix] it serves the objects of
// the bucket under prefix, keys with slashes as directories, through
//
//	aiofs.Wrap(s3fs.Dial(url))
//
// over HTTPS, or plain HTTP with s3+http:// (a gateway on this machine).
// The keys are AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (anonymous when
// unset), the region AWS_REGION (us-east-1 when unset):
//
//	AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... go run ./examples/fileserver -backend s3://s3.example.com/www
//
// The files are cached for as long as the server runs; a file changed on
// the remote side is seen at its next Open, when its size or modification
// time differ.
//
// On start it prints, on stdout, the engine aiofs uses and a line
//
//	listening on http://127.0.0.1:8080
//
// with the address actually bound. Each request is logged on stderr as one
// line: method, path, status, bytes sent and duration. SIGINT or SIGTERM
// stops accepting connections, lets requests in progress finish (up to
// -grace), closes the Fs and exits with status 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/afero"
)

func main() {
	root := flag.String("root", "", `directory to serve (default "."; not with a remote backend)`)
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	backend := flag.String("backend", "aiofs", `file system: "aiofs", "os" (afero.OsFs), sftp://[user@]host[:port][/path] (aiofs.Wrap over SFTP) or s3://host[:port]/bucket[/prefix] (aiofs.Wrap over S3; s3+http:// for plain HTTP)`)
	grace := flag.Duration("grace", 5*time.Second, "how long shutdown waits for requests in progress")
	dotfiles := flag.Bool("dotfiles", false, "serve names beginning with a dot (hidden by default)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fileserver: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*root, *addr, *backend, *grace, *dotfiles); err != nil {
		fmt.Fprintln(os.Stderr, "fileserver:", err)
		os.Exit(1)
	}
}

// run serves root ("" for the default) of backend on addr until SIGINT or
// SIGTERM.
func run(root, addr, backend string, grace time.Duration, dotfiles bool) error {
	fsys, dir, closeFs, err := openBackend(backend, root)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		closeFs()
		return err
	}
	// The address actually bound, so that -addr 127.0.0.1:0 is usable.
	fmt.Printf("listening on http://%s\n", ln.Addr())

	logger := log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds)
	srv := &http.Server{
		Handler:           logRequests(logger, fileHandler(fsys, dir, dotfiles)),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
		stop() // a second signal kills the process the default way
		fmt.Println("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		if err := srv.Shutdown(sctx); err != nil {
			logger.Printf("shutdown: %v; closing remaining connections", err)
			srv.Close()
		}
		cancel()
		<-served // http.ErrServerClosed
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	// No request uses the Fs any more: flush and release it.
	if err := closeFs(); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("closing the file system: %w", err)
	}
	if serveErr == nil {
		fmt.Println("stopped")
	}
	return serveErr
}

// fileHandler serves the files under dir of fsys, hiding dot-files unless
// dotfiles.
func fileHandler(fsys afero.Fs, dir string, dotfiles bool) http.Handler {
	var files http.FileSystem = afero.NewHttpFs(fsys).Dir(dir)
	if !dotfiles {
		files = hideDotFiles{files}
	}
	return http.FileServer(files)
}

// logRequests logs one line per request: method, path, status, bytes of
// body sent and duration.
func logRequests(logger *log.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		lw := &logWriter{ResponseWriter: w}
		defer func() {
			status := lw.status
			if status == 0 {
				status = http.StatusOK
			}
			logger.Printf("%s %s %d %d %s", r.Method, r.URL.RequestURI(), status, lw.bytes, time.Since(start).Round(time.Microsecond))
		}()
		h.ServeHTTP(lw, r)
	})
}

// logWriter counts what a handler sends. It keeps the ResponseWriter's
// io.ReaderFrom, so that net/http can still use sendfile for files that
// allow it, and Unwrap for http.ResponseController.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *logWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.bytes += n
	return n, err
}

func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
