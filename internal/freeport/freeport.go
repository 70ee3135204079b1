// Package freeport finds a loopback port nothing listens on, for the
// tests and benchmarks that start servers of their own. Another process
// could take the port before the caller listens on it; the callers start
// their server at once.
package freeport

import "net"

// Addr returns 127.0.0.1:<a free port>.
func Addr() (string, error) {
	a, err := free()
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// Port returns a free port of 127.0.0.1.
func Port() (int, error) {
	a, err := free()
	if err != nil {
		return 0, err
	}
	return a.Port, nil
}

func free() (*net.TCPAddr, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr), nil
}
