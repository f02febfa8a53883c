//go:build !unix

package baton

import (
	"context"
	"os/exec"
)

// lockFile is a no-op where flock does not exist: run one Sesame process
// per c1z there.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }

// ownProcessGroup is a no-op where process groups do not exist.
func ownProcessGroup(*exec.Cmd) {}
