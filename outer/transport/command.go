package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Output runs argv on m and returns its standard output; a non-zero exit
// is an error that names the command and quotes its last words (standard
// error's last line, else standard output's). It is how the driver and
// the host families run a command whose failure ends the action.
func Output(ctx context.Context, m Machine, timeout time.Duration, argv ...string) ([]byte, error) {
	res, err := m.Run(ctx, timeout, argv...)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		msg := LastLine(res.Stderr)
		if msg == "" {
			msg = LastLine(res.Stdout)
		}
		return nil, fmt.Errorf("`%s` exited %d: %s", DisplayArgv(argv), res.ExitCode, msg)
	}
	return res.Stdout, nil
}

// DisplayArgv is argv for a message: shell-quoted, each argument cut to
// 40 characters (an embedded script stays one short word).
func DisplayArgv(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if len(a) > 40 {
			a = a[:37] + "..."
		}
		out[i] = a
	}
	s, _ := QuoteArgv(out)
	return s
}

// LastLine is the last line of a command's output, trimmed.
func LastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// QuoteArgv joins argv into one POSIX shell command line in which every
// argument is a single-quoted word. NUL cannot be passed through a shell
// and is refused.
func QuoteArgv(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("empty command")
	}
	var b strings.Builder
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return "", fmt.Errorf("argument %d of %s contains a NUL byte", i, argv[0])
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(a))
	}
	return b.String(), nil
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
