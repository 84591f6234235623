// ldapbridge: the one script of the web app, served from /static (the
// Content-Security-Policy allows no inline script). The pages work without
// it; it only improves them.
"use strict";

(function () {
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // zoneName is the viewer's short zone name at date d ("CET", "GMT+2"),
  // else the IANA name, else the UTC offset.
  function zoneName(d) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(d);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === "timeZoneName") { return parts[i].value; }
      }
    } catch (e) { /* old browser: fall through */ }
    var off = -d.getTimezoneOffset();
    return "UTC" + (off < 0 ? "-" : "+") + pad(Math.floor(Math.abs(off) / 60)) + ":" + pad(Math.abs(off) % 60);
  }

  // localTimes rewrites every <time datetime> the server rendered in UTC
  // into the viewer's zone, keeping the UTC text as the tooltip.
  function localTimes(root) {
    var els = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (el.dataset.local) { continue; }
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) { continue; }
      el.title = el.textContent;
      el.textContent = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
        pad(d.getHours()) + ":" + pad(d.getMinutes()) + " " + zoneName(d);
      el.dataset.local = "1";
    }
  }

  // pollProgress keeps the running sync's panel up to date from its JSON
  // endpoint, once a second, and opens the history when the sync ends.
  function pollProgress(panel) {
    var url = panel.getAttribute("data-poll");
    function set(name, value) {
      var el = panel.querySelector('[data-field="' + name + '"]');
      if (el && value !== undefined && value !== null && value !== "") { el.textContent = String(value); }
    }
    function tick() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        })
        .then(function (p) {
          if (!p.running) {
            set("note", "The sync has finished; loading its result…");
            window.location.assign("/admin?sync=done#history");
            return;
          }
          set("phase", p.phase || "starting");
          set("read", p.read);
          set("applied", p.applied);
          panel.setAttribute("data-updated", String(Date.now()));
          window.setTimeout(tick, 1000);
        })
        .catch(function (e) {
          set("note", "The progress could not be read (" + e.message + "); retrying. Reload the page if this persists.");
          window.setTimeout(tick, 5000);
        });
    }
    window.setTimeout(tick, 1000);
  }

  window.ldapbridge = { localTimes: localTimes };
  localTimes(document);
  var panel = document.getElementById("sync-progress");
  if (panel && window.fetch) { pollProgress(panel); }
})();
