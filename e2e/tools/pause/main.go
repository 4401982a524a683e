// Command pause is the sandbox process of a pod on the e2e node. The kubelet starts it first in
// every pod so that the pod's namespaces exist before, and outlive, its containers. It does
// nothing until SIGINT or SIGTERM, then exits 0. When it is PID 1 of a shared PID namespace,
// processes orphaned inside the pod become its children; it reaps them on SIGCHLD so that
// none stays a zombie.
//
// Built static (CGO_ENABLED=0) and shipped alone in a scratch image.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const version = "kaos-pause 1.0"

func main() {
	if len(os.Args) > 1 {
		if os.Args[1] == "-v" || os.Args[1] == "--version" {
			fmt.Println(version)
			return
		}
		fmt.Fprintln(os.Stderr, "usage: pause [--version]")
		os.Exit(2)
	}

	// Separate channels: a burst of SIGCHLD must never crowd out a stop signal.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	child := make(chan os.Signal, 1)
	signal.Notify(child, syscall.SIGCHLD)

	// Children that exited before the handler was installed sent their SIGCHLD to nobody.
	reap()
	for {
		select {
		case sig := <-stop:
			fmt.Fprintf(os.Stderr, "pause: got %v, exiting\n", sig)
			os.Exit(0)
		case <-child:
			reap()
		}
	}
}

// reap waits for every child that has exited, without blocking. Signals of one kind coalesce,
// so one SIGCHLD may stand for several exits: loop until no exited child is left.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return // ECHILD: no children at all; 0: children left, none exited yet
		}
	}
}
