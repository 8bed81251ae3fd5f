//go:build !unix

package aiofs

import (
	"os"

	"github.com/spf13/afero"
)

// The durability oracle needs inodes (see sync_oracle_test.go); here it
// records nothing and passes everything.

type Oracle struct{}

func NewOracle() *Oracle                                        { return &Oracle{} }
func (o *Oracle) Close()                                        {}
func (o *Oracle) Now() uint64                                   { return 0 }
func (o *Oracle) Durable(before, by uint64, f afero.File) error { return nil }
func (o *Oracle) Written() int                                  { return 0 }

func fileIno(afero.File) uint64 { return 0 }
func InoOf(os.FileInfo) uint64  { return 0 }

func WithOracle(o *Oracle) Option { return func(*config) {} }

type RecFs struct{ afero.Fs }

func NewRecFs(o *Oracle) *RecFs { return &RecFs{afero.NewOsFs()} }

func NewNameReaderFs() *RecFs { return &RecFs{afero.NewOsFs()} }
