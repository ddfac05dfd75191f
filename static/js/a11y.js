// Keyboard and screen-reader help for every page (no inline scripts: CSP).
//
// - When htmx loads a panel (the free times of a day), focus moves to the panel's heading
//   (marked data-focus-target), so a keyboard user carries on from there instead of
//   tabbing through the rest of the month; the panel is aria-busy while it loads, and a
//   short summary (the panel's data-announce) is read out through a polite status region
//   (data-live-status). The link that loaded it is marked aria-current="true".
// - A link to "#id" of a heading marked data-focus-target (the month's heading, after
//   "Later"/"Earlier") puts focus on that heading when the page opens.
// - After a form comes back with errors, focus goes to the first field in error; its
//   message is tied to it with aria-describedby, so it is read out with the field.
(function () {
  "use strict";

  function focusQuietly(element) {
    if (!element) return;
    if (!element.hasAttribute("tabindex") && !element.matches("a, button, input, select, textarea")) {
      element.setAttribute("tabindex", "-1");
    }
    element.focus({ preventScroll: false });
  }

  function announce(message) {
    const region = document.querySelector("[data-live-status]");
    if (!region || !message) return;
    // Clear first so that the same message twice is still read out.
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = message;
    }, 50);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    const detail = event.detail || {};
    const target = detail.target;
    const source = detail.elt;
    if (target) target.setAttribute("aria-busy", "true");
    if (source && source.dataset.selectGroup) {
      document
        .querySelectorAll('[data-select-group="' + source.dataset.selectGroup + '"]')
        .forEach(function (other) {
          other.removeAttribute("aria-current");
        });
      source.setAttribute("aria-current", "true");
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    const target = (event.detail || {}).target;
    if (!target) return;
    target.removeAttribute("aria-busy");
    const summary = target.querySelector("[data-announce]");
    if (summary) announce(summary.dataset.announce);
    focusQuietly(target.querySelector("[data-focus-target]"));
  });

  function loadFailed(event) {
    const target = (event.detail || {}).target;
    if (!target) return;
    target.removeAttribute("aria-busy");
    announce("Sorry, we could not load that. Please try again, or reload the page.");
  }

  document.addEventListener("htmx:responseError", loadFailed);
  document.addEventListener("htmx:sendError", loadFailed);

  // Chrome focuses a focusable fragment target by itself (and blurs anything else, so the
  // target must be the heading itself); this does the same where a browser does not.
  function focusOnArrival() {
    const id = window.location.hash.slice(1);
    if (!id) return false;
    const place = document.getElementById(id);
    if (!place || !place.matches("[data-focus-target]")) return false;
    focusQuietly(place);
    return true;
  }

  function focusFirstError() {
    if (document.activeElement && document.activeElement !== document.body) return;
    const field = document.querySelector('main [aria-invalid="true"], main .is-invalid');
    if (field) focusQuietly(field);
  }

  if (!focusOnArrival()) focusFirstError();
})();
