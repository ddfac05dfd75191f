// "Copy" buttons: <button data-copy-target="#id" hidden> copies that field's text and says so
// in a polite status region next to it (data-copy-status). Shown only when this script runs.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    const field = document.querySelector(button.dataset.copyTarget);
    const status = button.parentElement.querySelector("[data-copy-status]");
    if (!field) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      const text = field.value || field.textContent;
      const done = function (message) {
        if (!status) return;
        status.textContent = "";
        window.setTimeout(function () { status.textContent = message; }, 50);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { done("Copied. Paste it into your calendar app."); },
          function () { field.select(); done("Select the address and copy it."); }
        );
      } else {
        field.select();
        done(document.execCommand("copy") ? "Copied. Paste it into your calendar app." : "Select the address and copy it.");
      }
    });
  });
})();
