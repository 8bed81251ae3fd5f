// Package s3test starts a real S3 store on 127.0.0.1 for tests,
// benchmarks and examples: SeaweedFS (master, volume server, filer and S3
// gateway in one `weed server` process) with its data in a temporary
// directory, reached directly or through internal/delayproxy.
//
// The weed binary is built once from the Go module proxy into a cache
// directory, outside any work tree: about 8 minutes on 2 cores, a binary
// of about 230 MB. `go install` cannot build it, because SeaweedFS's
// go.mod has a replace directive; a build module of its own requires
// SeaweedFS and repeats that replace.
package s3test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Version is the SeaweedFS module version built.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

// buildGoMod is the build module's go.mod: SeaweedFS and the one replace
// of its own go.mod, which a module that requires it must repeat.
const buildGoMod = `module aiofs.test/weedbuild

go 1.26

require github.com/seaweedfs/seaweedfs ` + Version + `

replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
`

// buildMain makes the build module import weed's main package, so that
// go mod tidy fills in its requirements.
const buildMain = `//go:build tools

package weedbuild

import _ "github.com/seaweedfs/seaweedfs/weed"
`

// ErrNotBuilt is the cause of Binary's error when the weed binary is not
// in the cache and building it was not asked for.
var ErrNotBuilt = errors.New("s3test: SeaweedFS's weed is not built; run `go run ./internal/s3test/buildweed` once (about 8 minutes)")

// CacheDir returns the directory the weed binary is cached in:
// $AIOFS_WEED_CACHE, or aiofs-weed in the user's cache directory.
func CacheDir() (string, error) {
	if dir := os.Getenv("AIOFS_WEED_CACHE"); dir != "" {
		return dir, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "aiofs-weed"), nil
}

// binaryPath returns where the weed binary of Version is cached.
func binaryPath() (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, fmt.Sprintf("weed-%s-%s-%s", Version, runtime.GOOS, runtime.GOARCH)), nil
}

// Binary returns the path of the cached weed binary. When it is missing,
// it is built if build is set, and ErrNotBuilt is returned otherwise.
func Binary(build bool) (string, error) {
	bin, err := binaryPath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if !build {
		return "", ErrNotBuilt
	}
	return bin, Build(bin)
}

// Build builds weed into bin with the go command on PATH. The build
// module sits beside bin; the binary appears under its name only once it
// is whole.
func Build(bin string) error {
	dir := filepath.Join(filepath.Dir(bin), "build")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(buildGoMod), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tools.go"), []byte(buildMain), 0o644); err != nil {
		return err
	}
	tmp := bin + ".tmp"
	for _, args := range [][]string{
		{"mod", "tidy"},
		{"build", "-o", tmp, "github.com/seaweedfs/seaweedfs/weed"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("s3test: go %v in %s: %v\n%s", args, dir, err, out)
		}
	}
	return os.Rename(tmp, bin)
}
