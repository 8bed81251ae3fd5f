package aiofs

import "testing"

// withoutPageCacheProbe makes inPageCache answer "not cached" for the
// rest of the test, as on systems without cachestat (Linux before 6.5,
// FreeBSD), so that readahead reads what the page cache holds.
func withoutPageCacheProbe(t *testing.T) {
	old := noCachestat.Swap(true)
	t.Cleanup(func() { noCachestat.Store(old) })
}
