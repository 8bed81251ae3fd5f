package main

import (
	"errors"
	"fmt"
	"runtime"
	"slices"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs"
)

// A store holds the inputs of the backends that name it and receives their
// outputs. It is made and filled once per invocation, because the inputs
// must outlive the Fs of each run, and closed at the end.
type store struct {
	name      string
	pageCache bool // its files go through the OS page cache, which -cold drops
	remote    bool // its sizes are capped by the -remote-* flags
	open      func(work string, cfg *config) (*opened, error)
}

// An opened store is a store made for this invocation.
type opened struct {
	store
	fs     afero.Fs
	dir    string // the directory of fs that holds the inputs and outputs
	about  string // what serves a remote store, for the table
	close  func() error
	cfg    *config // the sizes of its runs
	noSync string  // why Sync fails on fs, which skips the Sync workloads
}

// A backend is one column of the comparison. open makes the Fs of one run
// over its store's Fs; every run gets a new one, so caches in the Fs start
// empty.
type backend struct {
	name     string
	store    string // the name of its store
	engine   string // the aiofs engine it asks for; it is skipped when that engine does not start
	base     string // the backend it runs over, for "vs base"
	optional bool   // it runs only when -backends names it
	open     func(base afero.Fs) (afero.Fs, func() error)
}

func nop() error { return nil }

// errUnavailable marks a store that cannot be had here (a server not
// installed or built): its backends are skipped, with why, unless they
// were asked for by name.
var errUnavailable = errors.New("not available here")

var stores = []store{
	{name: "disk", pageCache: true, open: func(work string, _ *config) (*opened, error) {
		return &opened{fs: afero.NewOsFs(), dir: work, close: nop}, nil
	}},
	{name: "mem", open: func(work string, _ *config) (*opened, error) {
		return &opened{fs: afero.NewMemMapFs(), dir: work, close: nop}, nil
	}},
	{name: "sftp", remote: true, open: openSFTP},
	{name: "s3", remote: true, open: openS3},
}

// bare runs on the store's Fs itself. For mem that is the one MemMapFs
// holding the inputs: a new one would be empty.
func bare(base afero.Fs) (afero.Fs, func() error) { return base, nop }

func aiofsBackend(name, engine string, opts ...aiofs.Option) backend {
	return backend{name: name, store: "disk", engine: engine, open: func(afero.Fs) (afero.Fs, func() error) {
		fs := aiofs.New(opts...)
		return fs, fs.Close
	}}
}

// platformEngines lists the aiofs engines worth a backend here: the
// platform's own one, and the pool, which runs everywhere.
func platformEngines() []string {
	switch runtime.GOOS {
	case "linux":
		return []string{"uring", "pool"}
	case "freebsd":
		return []string{"kqueue", "pool"}
	}
	return []string{"pool"}
}

// wrapped runs aiofs.Wrap over the store's Fs.
func wrapped(base afero.Fs) (afero.Fs, func() error) {
	fs := aiofs.Wrap(base)
	return fs, fs.Close
}

// backendTable lists every backend in the order of the table. Those that
// run by default answer "which backend for my workload": the OS, aiofs
// on the platform's own engine, and the remote stores bare and wrapped,
// where Wrap pays. The others (MemMapFs bare and wrapped, a cache over
// memory, which cannot win; the pool engine where it is not the
// platform's; aiofs without prefetch and write-behind) run on request.
func backendTable() []backend {
	bs := []backend{
		{name: "os", store: "disk", open: bare},
		{name: "mem", store: "mem", optional: true, open: bare},
		{name: "mem-wrapped", store: "mem", base: "mem", optional: true, open: wrapped},
	}
	for i, e := range platformEngines() {
		b := aiofsBackend("aiofs-"+e, e, aiofs.WithEngine(e))
		b.optional = i > 0
		bs = append(bs, b)
	}
	ra0 := aiofsBackend("aiofs-ra0-wb0", "", aiofs.WithReadahead(0), aiofs.WithWriteBehind(0))
	ra0.optional = true
	return append(bs, ra0,
		backend{name: "sftp", store: "sftp", open: bare},
		backend{name: "sftp-wrapped", store: "sftp", base: "sftp", open: wrapped},
		backend{name: "s3", store: "s3", open: bare},
		backend{name: "s3-wrapped", store: "s3", base: "s3", open: wrapped},
	)
}

func findStore(name string) (store, error) {
	i := slices.IndexFunc(stores, func(s store) bool { return s.name == name })
	if i < 0 {
		return store{}, fmt.Errorf("no store %q", name)
	}
	return stores[i], nil
}

// probe opens one Fs of b over base to learn the engine an aiofs backend
// runs, and whether it must be skipped because the engine it asks for does
// not start here.
func probe(b backend, base afero.Fs) BackendInfo {
	info := BackendInfo{Name: b.name}
	fs, closeFs := b.open(base)
	defer closeFs()
	a, ok := fs.(*aiofs.Fs)
	if !ok {
		return info
	}
	st := a.Stats()
	info.Engine, info.Fallback = st.Engine, st.Fallback
	if b.engine != "" && st.Engine != b.engine {
		info.Skipped = fmt.Sprintf("engine %s not available (aiofs fell back to %s: %s)", b.engine, st.Engine, st.Fallback)
	}
	return info
}
