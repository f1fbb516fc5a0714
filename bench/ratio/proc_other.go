//go:build !linux

package main

import (
	"errors"
	"syscall"
)

var errNoProc = errors.New("bench/ratio reads /proc and runs on Linux only")

func childAttr() *syscall.SysProcAttr { return nil }

func procCPUTicks(int) (int64, error) { return 0, errNoProc }

func procMemKB(int) (rss, hwm, anon int64, err error) { return 0, 0, 0, errNoProc }

func evictFromPageCache(string) error { return errNoProc }

func clockTicks() int64 { return 100 }
