package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// notifyShutdown returns a context cancelled by the first SIGINT or
// SIGTERM (a graceful shutdown: flush, commit, stop); a second one while
// shutting down logs one line and calls exit(1) at once. stop releases the
// signals.
func notifyShutdown(parent context.Context, log *slog.Logger, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go watchSignals(sigs, done, cancel, log, exit)
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// watchSignals cancels on the first signal and exits on the second.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel func(), log *slog.Logger, exit func(int)) {
	select {
	case s := <-sigs:
		log.Info("shutting down; a second signal exits at once", "signal", s.String())
		cancel()
	case <-done:
		return
	}
	select {
	case s := <-sigs:
		log.Error("second signal during shutdown; exiting without finishing the final flush", "signal", s.String())
		exit(1)
	case <-done:
	}
}
