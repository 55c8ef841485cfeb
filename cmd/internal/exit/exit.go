// Package exit is the one error-to-exit-status idiom of the project's
// commands: a command returns an *Error carrying the documented exit code
// (and the message for the operator, or none when the command already
// said what happened), and main turns it into the process's status.
package exit

import (
	"errors"
	"fmt"
)

// Error is an error with the exit code the command ends with. Err nil
// means the outcome was already reported (a failed check, a failed step):
// main prints nothing more.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Wrap gives err the exit code code.
func Wrap(code int, err error) error { return &Error{Code: code, Err: err} }

// Errorf is Wrap of fmt.Errorf.
func Errorf(code int, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Status is an exit code with nothing more to say.
func Status(code int) error { return &Error{Code: code} }

// CodeOf returns the code of the *Error in err's chain, and whether there
// is one.
func CodeOf(err error) (code int, silent bool, ok bool) {
	var e *Error
	if !errors.As(err, &e) {
		return 0, false, false
	}
	return e.Code, e.Err == nil, true
}
