package aiofs_test

// Temporary: the engines_test.go of another branch provides forEngines;
// the lead deletes this file at merge.

import (
	"os"
	"runtime"
	"testing"

	"github.com/aiofs/aiofs"
)

// forEngines runs f once per engine under test, each in its own subtest:
// the pool always, uring on Linux when io_uring can be set up; AIOFS_ENGINE
// narrows the set to the one engine it names.
func forEngines(t *testing.T, f func(t *testing.T, engine string)) {
	t.Helper()
	names := []string{"pool"}
	if runtime.GOOS == "linux" {
		fsys := aiofs.New(aiofs.WithEngine("uring"))
		if fsys.Stats().Fallback == "" {
			names = append(names, "uring")
		}
		fsys.Close()
	}
	if e := os.Getenv("AIOFS_ENGINE"); e != "" {
		names = []string{e}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) { f(t, name) })
	}
}
