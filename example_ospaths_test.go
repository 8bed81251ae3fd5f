package aiofs_test

import (
	"fmt"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs"
)

// osPaths reports whether the names of fsys are paths of this machine:
// what a program that type-asserts *afero.OsFs usually wants to know. An
// Fs made by New has them; one made by Wrap has its base's names (an SFTP
// server's, a bucket's keys), and its Stats say engine "wrap".
func osPaths(fsys afero.Fs) bool {
	switch f := fsys.(type) {
	case *afero.OsFs:
		return true
	case *aiofs.Fs:
		return f.Stats().Engine != "wrap"
	}
	return false
}

// A program that checks for *afero.OsFs is taught about *aiofs.Fs.
func Example_osPaths() {
	fs := aiofs.New()
	defer fs.Close()
	wrapped := aiofs.Wrap(afero.NewMemMapFs())
	defer wrapped.Close()
	fmt.Println(osPaths(afero.NewOsFs()), osPaths(fs), osPaths(wrapped), osPaths(afero.NewMemMapFs()))
	// Output: true true false false
}
