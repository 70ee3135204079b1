package main

import (
	"testing"

	"github.com/signindiag/signindiag/internal/testenv"
)

// TestMain fails the package's tests when a goroutine outlives them: the
// package starts goroutines, and each must end with what started it.
func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }
