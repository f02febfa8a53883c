package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts the CPU profile (cpu != "") and turns on mutex and
// block profiling (mutex, block != ""); the returned function stops them and
// writes every requested profile.
func startProfiles(cpu, mutex, block string) (func() error, error) {
	var cpuFile *os.File
	if cpu != "" {
		f, err := os.Create(cpu) //nolint:gosec // the operator names the file
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, errors.Join(fmt.Errorf("cpu profile: %w", err), f.Close())
		}
		cpuFile = f
	}
	if mutex != "" {
		runtime.SetMutexProfileFraction(5)
	}
	if block != "" {
		// Sample blocking events of 100 µs and longer.
		runtime.SetBlockProfileRate(100_000)
	}
	return func() error {
		var errs []error
		if cpuFile != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpuFile.Close())
		}
		for _, p := range []struct{ name, file string }{{"mutex", mutex}, {"block", block}} {
			if p.file == "" {
				continue
			}
			errs = append(errs, writeProfile(p.name, p.file))
		}
		return errors.Join(errs...)
	}, nil
}

func writeProfile(name, file string) error {
	f, err := os.Create(file) //nolint:gosec // the operator names the file
	if err != nil {
		return fmt.Errorf("%s profile: %w", name, err)
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		return errors.Join(fmt.Errorf("%s profile: %w", name, err), f.Close())
	}
	return f.Close()
}
