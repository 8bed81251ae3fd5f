package aiofs

// Placeholder until the kqueue engine lands.
const platformEngine = "kqueue"

func newPlatformEngine(depth int) (engine, error) { return nil, errNoPlatformEngine }
