package aiofs

// The queue's own tests, which only a FreeBSD kernel can run, are in
// internal/kqaio; the contract in engine_test.go runs on this engine too.
// See FREEBSD.md.

import (
	"testing"

	"github.com/aiofs/aiofs/internal/kqaio"
)

func TestKqueueOpenEngine(t *testing.T) {
	if !kqaio.Supported {
		t.Skip("the kqueue engine runs on 64-bit FreeBSD only")
	}
	e, fallback := openEngine("kqueue", 0)
	defer e.close()
	if fallback != nil || e.name() != "kqueue" {
		t.Fatalf("openEngine(kqueue) = %s, %v", e.name(), fallback)
	}
	if _, ok := e.(*kqueueEngine); !ok {
		t.Errorf("openEngine(kqueue) = %T", e)
	}
}

// setDirectReaders sets how many reads may skip the queue at once, for
// BenchmarkEngineRead4K's comparison of the choices.
func (e *kqueueEngine) setDirectReaders(n int32) { e.directMax.Store(n) }
