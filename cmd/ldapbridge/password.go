package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// readSecret reads a password for the command. On a terminal it prompts on
// prompt and reads without echo, so the password never shows on screen or
// in a scrollback; from a pipe or file it reads the first line with only
// its line ending removed (never trimmed otherwise), as scripts expect.
// With confirm, a terminal is asked twice and the answers must match.
func readSecret(in io.Reader, prompt io.Writer, label string, confirm bool) (string, error) {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return readPassword(in)
	}
	ask := func(label string) (string, error) {
		fmt.Fprintf(prompt, "%s: ", label)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt) // the user's Enter was not echoed either
		return string(b), err
	}
	pw, err := ask(label)
	if err != nil || !confirm {
		return pw, err
	}
	again, err := ask("Repeat " + strings.ToLower(label[:1]) + label[1:])
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}

// readPassword returns the first line of r with only its line ending
// removed; the password is never trimmed otherwise.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// readNewPassword reads a new password for name, prompted twice without
// echo or from the first line of standard input; an empty one is bad usage.
func (g *globals) readNewPassword(name string) (string, error) {
	password, err := readSecret(g.stdin, g.stderr, "New password for "+name, true)
	if err != nil {
		return "", failed(fmt.Errorf("read password from standard input: %w", err))
	}
	if password == "" {
		return "", usage(errors.New("empty password — type a password at the prompt or write it on the first line of standard input"))
	}
	return password, nil
}
