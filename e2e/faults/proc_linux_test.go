//go:build linux

package faults

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill a child process when the test process dies, so a test binary
// that panics or times out leaves no worker behind.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
