//go:build !linux && !freebsd

package aiofs

// platformEngine is empty: the pool is this system's only engine.
const platformEngine = ""

func newPlatformEngine(depth int) (engine, error) { return nil, errNoPlatformEngine }
