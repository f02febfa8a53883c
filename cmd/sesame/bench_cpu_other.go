//go:build !unix

package main

import "time"

// processCPU cannot tell on this system.
func processCPU() (time.Duration, bool) { return 0, false }
