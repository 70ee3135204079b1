package testenv

import (
	"fmt"
	"os"
	"testing"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"
)

// VerifyNoLeaks runs a package's tests, then fails them if a goroutine
// outlived them (goleak). Call it from TestMain of every package that
// starts goroutines.
//
// kafka-go's clients without a Transport of their own share
// kafka.DefaultTransport, which keeps idle broker connections (and their
// goroutines) for the life of the process by design; they are closed before
// looking, so that only goroutines the code itself left behind are reported
// (a Transport created by the code and never closed still is).
func VerifyNoLeaks(m *testing.M) {
	code := m.Run()
	if t, ok := kafka.DefaultTransport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
