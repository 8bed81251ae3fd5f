package aiofs_test

import (
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/aiofs/aiofs"
)

// forEngines runs test once per engine available on this machine, as a subtest named for it.
func forEngines(t *testing.T, test func(t *testing.T, engine string)) {
	t.Helper()
	for _, e := range testEngines() {
		t.Run(e, func(t *testing.T) { test(t, e) })
	}
}

// platformEngines are the engines this system may have besides the pool.
func platformEngines() []string {
	switch runtime.GOOS {
	case "linux":
		return []string{"uring"}
	case "freebsd":
		return []string{"kqueue"}
	}
	return nil
}

var testEngines = sync.OnceValue(func() []string {
	// AIOFS_ENGINE narrows the run to one engine, available or not:
	// TestEngineIsTheOneAsked fails if it fell back to the pool.
	if e := os.Getenv("AIOFS_ENGINE"); e != "" {
		return []string{e}
	}
	out := []string{"pool"}
	for _, e := range platformEngines() {
		if engineStarts(e) {
			out = append(out, e)
		}
	}
	return out
})

// engineStarts reports whether an Fs asking for engine gets it rather
// than the pool (io_uring may be disabled, POSIX AIO not loaded).
func engineStarts(engine string) bool {
	fsys := aiofs.New(aiofs.WithEngine(engine))
	defer fsys.Close()
	st := fsys.Stats()
	return st.Engine == engine && st.Fallback == ""
}
