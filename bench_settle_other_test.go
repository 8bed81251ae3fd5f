//go:build !unix

package aiofs_test

// benchSettle does nothing here: there is no portable sync(2).
func benchSettle() {}
