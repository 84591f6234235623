package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium; LDAPBRIDGE_CHROMIUM overrides it.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("LDAPBRIDGE_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("LDAPBRIDGE_CHROMIUM: %v — point it at a Chromium binary or unset it to use /usr/bin/chromium", err)
		}
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("headless Chromium is not installed (no /usr/bin/chromium): run `apt-get install chromium` " +
		"(scripts/test installs it) or set LDAPBRIDGE_CHROMIUM to a Chromium binary")
	return ""
}

// artifactsDir is where screenshots go: $LDAPBRIDGE_ARTIFACTS (relative
// paths are taken from the module root, as scripts/test runs there) or a
// temporary directory.
func artifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("LDAPBRIDGE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(moduleRoot(t), dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("LDAPBRIDGE_ARTIFACTS: %v", err)
	}
	return dir
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// browser is one headless Chromium tab pointed at a demo.
type browser struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
	shots     int
}

// Viewports for screenshots: a laptop and a narrow phone.
var viewports = []struct {
	name          string
	width, height int64
	mobile        bool
}{
	{"desktop", 1280, 800, false},
	{"mobile", 390, 844, true},
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	var out lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(&out),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium output (D-Bus noise left out):\n%s", withoutLines(out.String(), "dbus"))
		}
	})
	// The first Run starts the browser; it must not carry a timeout.
	// Focus emulation makes the headless tab behave as a focused window,
	// so :focus-visible applies as it does for a keyboard user.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	})); err != nil {
		t.Fatalf("start %s: %v", chromiumPath(t), err)
	}
	dir := filepath.Join(artifactsDir(t), t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, ctx: ctx, base: base, artifacts: dir}
}

// step runs actions that load a page and returns the page's HTTP status.
func (b *browser) step(what string, actions ...chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return int(resp.Status)
}

func (b *browser) open(path string) int {
	b.t.Helper()
	return b.step("open "+path, chromedp.Navigate(b.base+path))
}

// signIn fills and submits the sign-in form on the current page.
func (b *browser) signIn(username, password string) int {
	b.t.Helper()
	return b.step("sign in as "+username,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(document.getElementById("username").value = "", true)`)(ctx, t)
			return err
		}),
		chromedp.SendKeys(chromedp.ID("username"), username),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
	)
}

func (b *browser) signOut() int {
	b.t.Helper()
	return b.step("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button[type=submit]`)))
}

// eval runs a JavaScript expression in the page (DevTools evaluation is not
// subject to the page's CSP) and decodes its value into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// focusedID is the id of the element that has the focus once the page has
// settled. Chromium applies an autofocus attribute asynchronously, a
// moment after the page has loaded, so a page that should focus a field
// is given up to two seconds to do it.
func (b *browser) focusedID() string {
	b.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		id := eval[string](b, `document.activeElement ? document.activeElement.id : ""`)
		if id != "" || time.Now().After(deadline) {
			return id
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// path is the current page's path and query.
func (b *browser) path() string {
	b.t.Helper()
	u, err := url.Parse(eval[string](b, `location.href`))
	if err != nil {
		b.t.Fatal(err)
	}
	return u.RequestURI()
}

func (b *browser) text(selector string) string {
	b.t.Helper()
	q, _ := json.Marshal(selector)
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%s) || {innerText: ""}).innerText`, q))
}

// screenshot saves a full-page PNG of the current page at each viewport.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	b.shots++
	for _, vp := range viewports {
		var opts []chromedp.EmulateViewportOption
		if vp.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err := chromedp.Do(ctx, chromedp.EmulateViewport(vp.width, vp.height, opts...))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s (%s): %v", name, vp.name, err)
		}
		file := filepath.Join(b.artifacts, fmt.Sprintf("%02d-%s-%s.png", b.shots, name, vp.name))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		b.t.Fatal(err)
	}
}

// withoutLines drops the lines of s that contain sub.
func withoutLines(s, sub string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, sub) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// want fails the test unless got equals want.
func want[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func wantContains(t *testing.T, what, got, sub string) {
	t.Helper()
	if !strings.Contains(got, sub) {
		t.Fatalf("%s: %q does not contain %q", what, got, sub)
	}
}

// press types keys into the focused element, as a keyboard would.
func (b *browser) press(keys string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(keys)); err != nil {
		b.t.Fatalf("press %q: %v", keys, err)
	}
}
