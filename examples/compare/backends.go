package main

import (
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
	open      func(work string) (afero.Fs, func() error, error)
}

// A backend is one column of the comparison. open makes the Fs of one run
// over its store's Fs; every run gets a new one, so caches in the Fs start
// empty.
type backend struct {
	name   string
	store  string // the name of its store
	engine string // the aiofs engine it asks for; it is skipped when that engine does not start
	open   func(base afero.Fs) (afero.Fs, func() error)
}

func nop() error { return nil }

var stores = []store{
	{name: "disk", pageCache: true, open: func(string) (afero.Fs, func() error, error) {
		return afero.NewOsFs(), nop, nil
	}},
	{name: "mem", open: func(string) (afero.Fs, func() error, error) {
		return afero.NewMemMapFs(), nop, nil
	}},
	// A remote store (an SFTP server under the work directory and a client
	// Fs to it) goes here, for the sftp backends below.
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

// backendTable lists every backend in the order of the table. A backend
// over another afero.Fs is one entry, e.g. aiofs.Wrap over the mem store:
//
//	{name: "mem-wrapped", store: "mem", open: func(base afero.Fs) (afero.Fs, func() error) {
//		fs := aiofs.Wrap(base)
//		return fs, fs.Close
//	}},
//
// and sftp, sftp-wrapped likewise over a remote store.
func backendTable() []backend {
	bs := []backend{
		{name: "os", store: "disk", open: bare},
		{name: "mem", store: "mem", open: bare},
	}
	for _, e := range platformEngines() {
		bs = append(bs, aiofsBackend("aiofs-"+e, e, aiofs.WithEngine(e)))
	}
	return append(bs, aiofsBackend("aiofs-ra0-wb0", "", aiofs.WithReadahead(0), aiofs.WithWriteBehind(0)))
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
