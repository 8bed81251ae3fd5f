//go:build !unix

package aiofs

// O_SYNC is the only durable-write flag here, and there is no O_DIRECT.
const (
	dsyncFlag  = 0
	directFlag = 0
)
