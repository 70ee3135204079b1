package input_test

import (
	"testing"

	"github.com/signindiag/signindiag/internal/testenv"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }
