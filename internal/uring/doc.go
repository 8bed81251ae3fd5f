// Package uring does positioned file I/O through one io_uring: the kernel
// ABI, the setup and mapping of the rings, request slots, and the
// goroutines that submit and reap. When to bypass the ring is not its
// business; aiofs's uring engine, its only user, decides that.
//
// Callers take a request slot (waiting while all are busy), write an SQE
// under sqMu and wake the submitter goroutine. It alone enters the kernel
// with SQEs (on slow storage from a thread locked to it, so that the
// requests that must block share one io-wq), once for everything queued
// since its last call, then hands out the completions that are ready on
// its return (reads from the page cache complete inside the call). The
// reaper goroutine waits in the netpoller on an eventfd the kernel
// signals when it posts completions, and hands out the rest. Each
// completion goes to its slot's channel.
//
// There are fewer slots than CQ entries and no more than SQ entries (the
// kernel makes the CQ twice the SQ), so neither ring can overflow.
//
// The package builds only on Linux; elsewhere it is empty.
package uring
