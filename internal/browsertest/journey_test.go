package browsertest

import (
	"net/http"
	"strings"
	"testing"
)

// The demo data the journey relies on (demodir's people): jdoe is a regular
// user with a photo, bjones is staff, cbrown is a regular user, jmuller has
// no photo.
const (
	regularUser     = "jdoe"
	regularFullName = "John Doe"
	staffUser       = "bjones"
	limitedUser     = "cbrown"
	noPhotoUser     = "jmuller" // Jürgen Müller has no photo
	noPhotoInitials = "JM"
)

// TestBrowserDemoJourney walks the demo in headless Chromium as a newcomer
// would: a regular user signs in, sees their name and photo, is refused the
// admin area and signs out; a staff user sees the users list and signs out.
// A screenshot of every step is saved at a desktop and a phone width.
func TestBrowserDemoJourney(t *testing.T) {
	chromiumPath(t)
	d := startDemo(t)
	b := newBrowser(t, d.URL)
	regular, staff := d.login(t, regularUser), d.login(t, staffUser)
	want(t, "printed roles of "+regularUser, regular.Roles, "regular user")
	want(t, "printed roles of "+staffUser, staff.Roles, "staff")

	want(t, "GET /", b.open("/"), http.StatusOK)
	wantContains(t, "home page", b.text("main"), "Sign in")
	want(t, "stylesheet rules loaded from the binary", eval[bool](b,
		`document.styleSheets.length > 0 && document.styleSheets[0].cssRules.length > 0`), true)
	b.screenshot("home")

	want(t, "GET /login", b.open("/login"), http.StatusOK)
	checkForm(t, b)
	b.screenshot("login")

	want(t, "sign in as "+regularUser, b.signIn(regular.Username, regular.Password), http.StatusOK)
	want(t, "page after sign-in", b.path(), "/")
	wantContains(t, "home page after sign-in", b.text("main h1"), regularFullName)

	want(t, "GET /profile", b.open("/profile"), http.StatusOK)
	want(t, "profile heading", b.text("main h1"), regularFullName)
	wantContains(t, "profile", b.text("main"), regular.Username)
	checkPhoto(t, b, regularFullName)
	b.screenshot("profile-regular")

	want(t, "GET /admin as "+regularUser, b.open("/admin"), http.StatusForbidden)
	refusal := b.text("main")
	wantContains(t, "admin refusal", refusal, "403")
	wantContains(t, "admin refusal", refusal, "staff only")
	b.screenshot("admin-refused")

	want(t, "sign out", b.signOut(), http.StatusOK)
	want(t, "page after sign-out", b.path(), "/login?signed_out=1")
	wantContains(t, "sign-out notice", b.text("main"), "You have signed out.")
	b.screenshot("signed-out")
	want(t, "GET /profile after sign-out", b.open("/profile"), http.StatusOK)
	want(t, "page for /profile after sign-out", b.path(), "/login?next=%2Fprofile")

	want(t, "sign in as "+staffUser, b.signIn(staff.Username, staff.Password), http.StatusOK)
	want(t, "page after sign-in with next", b.path(), "/profile")
	want(t, "GET /admin as "+staffUser, b.open("/admin"), http.StatusOK)
	b.screenshot("admin-staff")
	want(t, "GET /admin/users", b.open("/admin/users"), http.StatusOK)
	users := b.text("main table tbody")
	for _, l := range d.Logins {
		if l.Roles == "regular user" || strings.Contains(l.Roles, "staff") {
			wantContains(t, "admin users list", users, l.Username)
		}
	}
	b.screenshot("admin-users")
	want(t, "GET /admin/users/"+regularUser, b.open("/admin/users/"+regularUser), http.StatusOK)
	want(t, "admin user heading", b.text("main h1"), regularFullName)
	checkPhoto(t, b, regularFullName)
	b.screenshot("admin-user")
	want(t, "GET /admin/users/"+noPhotoUser, b.open("/admin/users/"+noPhotoUser), http.StatusOK)
	want(t, "initials in place of a missing photo", b.text("main .photo.placeholder"), noPhotoInitials)
	b.screenshot("admin-user-no-photo")

	want(t, "sign out", b.signOut(), http.StatusOK)
	want(t, "page after sign-out", b.path(), "/login?signed_out=1")

	want(t, "GET /no-such-page", b.open("/no-such-page"), http.StatusNotFound)
	wantContains(t, "not-found page", b.text("main"), "/no-such-page")
	b.screenshot("not-found")
}

// TestBrowserRateLimitsWrongPasswords proves that the sixth wrong password in
// a row for one user is refused with a clear message, and that the right
// password is refused too until the limit passes.
func TestBrowserRateLimitsWrongPasswords(t *testing.T) {
	chromiumPath(t)
	d := startDemo(t)
	b := newBrowser(t, d.URL)
	user := d.login(t, limitedUser)

	want(t, "GET /login", b.open("/login"), http.StatusOK)
	for i := 1; i <= 5; i++ {
		want(t, "wrong password", b.signIn(user.Username, "wrong-password"), http.StatusUnauthorized)
		want(t, "message after wrong password", b.text(`[role=alert]`), "Invalid username or password.")
	}
	want(t, "focus after a wrong password", b.focusedID(), "password")
	b.screenshot("wrong-password")
	want(t, "sixth wrong password", b.signIn(user.Username, "wrong-password"), http.StatusTooManyRequests)
	msg := b.text(`[role=alert]`)
	wantContains(t, "rate-limit message", msg, "Too many sign-in attempts")
	wantContains(t, "rate-limit message", msg, "Try again in")
	b.screenshot("rate-limited")
	want(t, "right password while limited", b.signIn(user.Username, user.Password), http.StatusTooManyRequests)
	want(t, "username kept in the form", eval[string](b, `document.getElementById("username").value`), user.Username)
}

// checkForm checks the sign-in form's accessibility basics: every visible
// field has a label, and keyboard focus is visible.
func checkForm(t *testing.T, b *browser) {
	t.Helper()
	unlabelled := eval[[]string](b, `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
		.filter(e => e.labels.length === 0 && !e.getAttribute("aria-label")).map(e => e.name || e.id)`)
	if len(unlabelled) > 0 {
		t.Fatalf("form fields without a label: %v", unlabelled)
	}
	want(t, "focus starts on the username field", b.focusedID(), "username")
	for _, next := range []string{"password", "submit"} {
		b.press("\t")
		focused := eval[string](b, `document.activeElement.id || document.activeElement.type`)
		want(t, "Tab moves focus to", focused, next)
		outline := eval[string](b, `(s => s.outlineStyle + " " + s.outlineWidth)(getComputedStyle(document.activeElement))`)
		if strings.HasPrefix(outline, "none") || strings.HasSuffix(outline, " 0px") {
			t.Fatalf("the focused %s has no visible outline (outline %q)", next, outline)
		}
	}
	eval[bool](b, `(document.getElementById("username").focus(), true)`)
}

// checkPhoto checks that the page shows a loaded photo with a useful alt text.
func checkPhoto(t *testing.T, b *browser, name string) {
	t.Helper()
	width := eval[int](b, `(() => { const i = document.querySelector("img.photo"); return i && i.complete ? i.naturalWidth : -1; })()`)
	if width <= 0 {
		t.Fatalf("the photo on %s did not load (naturalWidth %d)", b.path(), width)
	}
	wantContains(t, "photo alt text", eval[string](b, `document.querySelector("img.photo").alt`), name)
}
