//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// childAttr makes a child process die with the harness, even if the
// harness is killed outright and its deferred clean-up never runs.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// procCPUTicks is utime + stime of process pid, in clock ticks
// (fields 14 and 15 of /proc/PID/stat).
func procCPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, err
	}
	s, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, err
	}
	return u + s, nil
}

// procMemKB is VmRSS, VmHWM (peak RSS) and RssAnon (the private, not
// file-backed, part of VmRSS) of process pid, in KiB.
func procMemKB(pid int) (rss, hwm, anon int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	fields := map[string]*int64{"VmRSS": &rss, "VmHWM": &hwm, "RssAnon": &anon}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if dst := fields[k]; ok && dst != nil {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
			}
			*dst = n
		}
	}
	return rss, hwm, anon, sc.Err()
}

// evictFromPageCache drops the file at path from the page cache, so that
// the next process started from it reads it from disk as a server does
// after an install and a reboot. A file just written (by go build) stays
// cached in large folios, and a process then maps, and counts in its RSS,
// nearly all of its text whatever it touches. The kernel may keep pages
// (tmpfs has no disk behind it; another process may map the file): it is
// an error when more than a tenth of the file stays.
func evictFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	// Dirty pages are not dropped; a file long written has none.
	if err := unix.Fdatasync(fd); err != nil {
		return fmt.Errorf("fdatasync %s: %w", path, err)
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	mem, err := unix.Mmap(fd, 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map %s: %w", path, err)
	}
	defer unix.Munmap(mem) //nolint:errcheck // a read-only mapping
	pages := make([]byte, (len(mem)+os.Getpagesize()-1)/os.Getpagesize())
	// x/sys has no wrapper for mincore(2).
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&pages[0]))); errno != 0 {
		return fmt.Errorf("mincore %s: %w", path, errno)
	}
	cached := 0
	for _, p := range pages {
		cached += int(p & 1)
	}
	if cached*10 > len(pages) {
		return fmt.Errorf("the page cache kept %d of %d pages of %s (a tmpfs? mapped by another process?)", cached, len(pages), path)
	}
	return nil
}

// clockTicks is the kernel's USER_HZ (getconf CLK_TCK), 100 almost
// everywhere.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}
