package aiofs

// Placeholder until the io_uring engine lands.
const platformEngine = "uring"

func newPlatformEngine(depth int) (engine, error) { return nil, errNoPlatformEngine }
