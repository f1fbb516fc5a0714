package handlers

import "testing"

func TestOnlyALoopbackPeerCountsAsTheServersOwnMachine(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:51234":        true,
		"127.8.9.10:1":           true,
		"[::1]:51234":            true,
		"[::ffff:127.0.0.1]:443": true,
		"10.0.0.7:51234":         false,
		"192.168.1.20:3000":      false,
		"[2001:db8::1]:3000":     false,
		"[::]:3000":              false,
		"localhost:3000":         false, // a name, not a peer address: never trusted
		"127.0.0.1":              false, // no port: not what net/http sets
		"":                       false,
	} {
		if got := fromLoopback(addr); got != want {
			t.Errorf("fromLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
