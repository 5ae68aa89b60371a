// The portal's only script: the language switch and the HTMX dialog. Every action also works
// without it (plain pages). No inline handlers anywhere: the Content-Security-Policy forbids them.
(function () {
  "use strict";
  // A select that submits its form when changed (the language switch; a button does it without JS).
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-submit-on-change]")) event.target.form.requestSubmit();
    // A list's "select all" box checks every row box of its bulk form (data-select-all="<form id>").
    if (event.target.matches("input[data-select-all]")) {
      var boxes = document.querySelectorAll('input[name="ids"][form="' + event.target.dataset.selectAll + '"]');
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = event.target.checked;
    }
  });
  var dialog = document.getElementById("dialog");
  var content = document.getElementById("dialog-content");
  if (!dialog || !content) return;

  function close() {
    if (dialog.open) dialog.close();
  }

  // A fragment swapped into the dialog opens it once htmx has settled it (its hx-* attributes are
  // wired by then, so typing at once reaches the active search); an empty one closes it.
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target !== content && event.target !== content) return;
    if (content.children.length) {
      if (!dialog.open) dialog.showModal();
      var focus = content.querySelector("[autofocus], input:not([type=hidden]):not([readonly]), select, button.btn-primary, button.btn-danger-solid");
      if (focus) focus.focus();
    } else {
      close();
    }
  });
  // The server asks for it after a successful action (HX-Trigger: close-dialog).
  document.body.addEventListener("close-dialog", close);
  // Cancel links are real links (to the list) without JavaScript; inside the dialog they close it.
  content.addEventListener("click", function (event) {
    var cancel = event.target.closest("[data-close-dialog]");
    if (cancel) {
      event.preventDefault();
      close();
    }
  });
  // In the dialog, Enter in an active-search box searches (HTMX) instead of submitting the form.
  content.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches("input[type=search][hx-get]")) {
      event.preventDefault();
      window.htmx && window.htmx.trigger(event.target, "search");
    }
  });
  // Focus stays in the open dialog: Tab from its last control goes to its first, Shift+Tab from the
  // first to the last (a modal <dialog> keeps the page inert, but Tab would still leave it for the
  // browser's own controls).
  dialog.addEventListener("keydown", function (event) {
    // Escape closes at once, also from a search box (whose own Escape would only clear it first).
    if (event.key === "Escape") {
      event.preventDefault();
      close();
      return;
    }
    if (event.key !== "Tab") return;
    var controls = Array.prototype.filter.call(
      dialog.querySelectorAll("a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])"),
      function (el) { return el.offsetWidth || el.offsetHeight || el.getClientRects().length; }
    );
    if (!controls.length) return;
    var first = controls[0], last = controls[controls.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      first.focus();
    }
  });
  // Closing (Esc, cancel) discards the fragment, so nothing half-filled lingers.
  dialog.addEventListener("close", function () {
    content.innerHTML = "";
  });
  // Click on the backdrop closes.
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) close();
  });
})();
