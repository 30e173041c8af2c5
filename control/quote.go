package control

import (
	"errors"
	"strings"
)

// ErrNUL is returned when an argument contains a NUL byte: no POSIX argv
// can carry one, so quoting it would silently truncate the argument.
var ErrNUL = errors.New("argument contains a NUL byte")

// Quote returns s as one /bin/sh word that expands to exactly s.
//
// Words made only of characters that no shell treats specially are returned
// as they are, which keeps logged commands readable; everything else is
// wrapped in single quotes, inside which sh interprets nothing, and each
// embedded single quote is written as the four characters ' \ ' ' (close
// the quoted part, an escaped quote, reopen).
// s must not contain NUL (see QuoteArgv).
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isSafeWord(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b.WriteString(`'\''`)
		} else {
			b.WriteByte(s[i])
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// isSafeWord reports whether s needs no quoting. The set is deliberately
// small: no glob characters, no '=' at the start (which would turn the first
// word of a command into an assignment), no '~' (tilde expansion), no '#'.
func isSafeWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '/' || c == ',' || c == ':' || c == '@' || c == '%' || c == '+':
		case c == '=' && i > 0:
		default:
			return false
		}
	}
	return true
}

// QuoteArgv quotes each element of argv and joins them with spaces, giving a
// shell command line that runs argv[0] with exactly argv[1:] as arguments.
func QuoteArgv(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("empty argv")
	}
	q := make([]string, len(argv))
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return "", ErrNUL
		}
		q[i] = Quote(a)
	}
	return strings.Join(q, " "), nil
}
