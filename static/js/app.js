// Small progressive enhancements; no inline scripts anywhere (content security policy).
document.addEventListener("DOMContentLoaded", function () {
  // "Select all" checkbox for bulk actions.
  document.querySelectorAll("[data-check-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll(box.dataset.checkAll).forEach(function (other) {
        other.checked = box.checked;
      });
    });
  });
  // Confirmation for destructive or large actions.
  document.querySelectorAll("[data-confirm]").forEach(function (el) {
    el.addEventListener("click", function (event) {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  });
  // Show progress while a long form (upload, launch) is submitted.
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.disabled = true;
        b.textContent = form.dataset.busy;
      });
    });
  });
});
