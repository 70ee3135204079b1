package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestSecondSignalExitsAtOnce(t *testing.T) {
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	sigs := make(chan os.Signal, 2)
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	finished := make(chan struct{})
	go func() {
		watchSignals(sigs, done, cancel, log, func(code int) { exited <- code })
		close(finished)
	}()
	sigs <- syscall.SIGTERM
	<-ctx.Done() // the first signal starts the graceful shutdown
	select {
	case code := <-exited:
		t.Fatalf("exited with %d after one signal", code)
	default:
	}
	sigs <- syscall.SIGINT
	if code := <-exited; code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	<-finished
	if n := strings.Count(logBuf.String(), "second signal during shutdown"); n != 1 {
		t.Fatalf("%d log lines about the second signal, want 1:\n%s", n, logBuf.String())
	}
}

func TestNoSignalNoExit(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	finished := make(chan struct{})
	go func() {
		watchSignals(sigs, done, cancel, slog.New(slog.DiscardHandler), func(code int) { t.Errorf("exit(%d)", code) })
		close(finished)
	}()
	close(done) // the command ended on its own
	<-finished
	if ctx.Err() != nil {
		t.Fatal("cancelled without a signal")
	}
}
