//go:build !unix

package aiofs

// dsyncFlag is zero: O_SYNC is the only durable-write flag here.
const dsyncFlag = 0
