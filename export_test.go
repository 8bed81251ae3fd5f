package aiofs

// DsyncFlag is O_DSYNC for the external tests: package syscall does not
// name it on every system.
const DsyncFlag = dsyncFlag

// WithFaults makes the Fs's engine inject faults as fc says. Use it with
// WithEngine, so that the Fs owns the engine it wraps and closes it. The
// faults go over any other wrapper (WithOracle's), given before or after.
func WithFaults(fc FaultConfig) (Option, *FaultLog) {
	log := &FaultLog{}
	return func(c *config) {
		under := c.engineHook
		c.engineHook = func(e engine) engine {
			if under != nil {
				e = under(e)
			}
			return newFaultEngine(e, fc, log)
		}
	}, log
}

// StreamWindowBytes is how much dirty data a file written in sequence may
// hold while its flush runs.
const StreamWindowBytes = streamWindow * blockSize

// WritebackAfter is how many bytes written to a file make the Fs start
// the kernel's writeback of it.
const WritebackAfter = writebackAfter

// The one list of engines the tests run on, and its runners, for the
// external tests.
var (
	EnginesUnderTest   = enginesUnderTest
	ForEngines         = forEngines
	ParallelForEngines = parallelForEngines
	ForEnginesSerial   = forEnginesSerial
)
