// Command delayproxy forwards TCP connections to a target after a fixed
// delay in each direction (see internal/delayproxy). bench/run.sh -slow
// puts it between sshfs and sshd to make loopback look like a slow link:
//
//	delayproxy -target 127.0.0.1:2222 -delay 1ms
//
// It listens on -listen (default 127.0.0.1 with a free port), prints
//
//	listening on 127.0.0.1:PORT
//
// on stdout with the address actually bound, and runs until SIGINT or
// SIGTERM.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aiofs/aiofs/internal/delayproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	target := flag.String("target", "", "address to forward to (required)")
	delay := flag.Duration("delay", time.Millisecond, "delay of each direction")
	flag.Parse()
	if *target == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayproxy:", err)
		os.Exit(1)
	}
	p := delayproxy.New(ln, *target, *delay)
	fmt.Printf("listening on %s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	served := make(chan error, 1)
	go func() { served <- p.Serve() }()
	select {
	case <-sig:
		p.Close()
	case err := <-served:
		fmt.Fprintln(os.Stderr, "delayproxy:", err)
		os.Exit(1)
	}
}
