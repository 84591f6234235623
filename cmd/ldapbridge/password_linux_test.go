package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the test types into master, the
// code under test reads from the terminal side.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	// Non-blocking, so os.File uses the poller and read deadlines work.
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	m := os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}

// screen collects what the terminal shows (everything written to master's
// other side, echo included) until nothing new arrives for a moment.
func screen(t *testing.T, master *os.File) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		_ = master.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := master.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

func TestPasswordOnATerminalIsNotEchoed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		confirm bool
		typed   string
		want    string
		wantErr string
	}{
		{name: "auth test", typed: "s3cret pass\r", want: "s3cret pass"},
		{name: "add-local asks twice", confirm: true, typed: "s3cret pass\rs3cret pass\r", want: "s3cret pass"},
		{name: "add-local refuses a mismatch", confirm: true, typed: "s3cret pass\rs3cret pasz\r", wantErr: "differ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, tty := openPTY(t)
			var prompt bytes.Buffer
			type result struct {
				pw  string
				err error
			}
			done := make(chan result, 1)
			go func() {
				pw, err := readSecret(tty, &prompt, "Password for jdoe", tc.confirm)
				done <- result{pw, err}
			}()
			// Type one line at a time once echo is off, as a person would.
			for _, line := range strings.SplitAfter(tc.typed, "\r") {
				if line == "" {
					continue
				}
				time.Sleep(100 * time.Millisecond)
				if _, err := master.WriteString(line); err != nil {
					t.Fatal(err)
				}
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("readSecret did not return")
			}
			shown := screen(t, master)
			if strings.Contains(shown, "s3cret") {
				t.Errorf("the terminal echoed the password: %q", shown)
			}
			if tc.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", r.err, tc.wantErr)
				}
				return
			}
			if r.err != nil || r.pw != tc.want {
				t.Fatalf("got %q, %v; want %q", r.pw, r.err, tc.want)
			}
			if !strings.Contains(prompt.String(), "Password for jdoe: ") {
				t.Errorf("no prompt: %q", prompt.String())
			}
		})
	}
}

func TestPasswordFromAPipeIsTheFirstLineUntrimmed(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() { w.WriteString("  pass word \r\nsecond line\n"); w.Close() }()
	var prompt bytes.Buffer
	pw, err := readSecret(r, &prompt, "Password", true)
	if err != nil || pw != "  pass word " {
		t.Fatalf("got %q, %v", pw, err)
	}
	if prompt.Len() != 0 {
		t.Errorf("prompted on a pipe: %q", prompt.String())
	}
}
