// The phone menu: below 640 px the main navigation folds behind one button (static file: strict CSP).
// Loaded in <head> without defer so that the page is laid out folded from the start; without
// JavaScript the class is never set and the navigation stays open (static/css/app.css).
(function () {
  document.documentElement.classList.add("has-menu");
  document.addEventListener("DOMContentLoaded", function () {
    var header = document.querySelector(".topbar");
    var button = header && header.querySelector(".menu-toggle");
    if (!button) return;
    button.addEventListener("click", function () {
      var open = header.classList.toggle("menu-open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });
})();
