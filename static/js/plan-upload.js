// The plan upload page: shows the upload's progress, then "Đang đọc tệp…" while the server
// reads the file, then opens the preview, or shows the refusal in place. Without this
// script the form posts normally (app.js still shows "Đang đọc tệp…" on the button).
document.addEventListener("DOMContentLoaded", function () {
  "use strict";

  function bind(form) {
    if (!window.FormData || !window.XMLHttpRequest || !window.DOMParser) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = form.querySelector("[data-upload-status]");
      var bar = form.querySelector("[data-upload-progress]");
      var label = form.querySelector("[data-upload-label]");
      function show(text, percent) {
        if (status) status.hidden = false;
        if (label) label.textContent = text;
        if (bar) {
          if (percent === null) bar.removeAttribute("value");
          else bar.value = percent;
        }
      }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable && e.loaded < e.total) {
          show("Đang tải tệp lên… " + Math.round((100 * e.loaded) / e.total) + "%", (100 * e.loaded) / e.total);
        } else {
          show("Đang đọc tệp…", null);
        }
      });
      xhr.upload.addEventListener("load", function () {
        show("Đang đọc tệp…", null);
      });
      xhr.addEventListener("load", function () {
        var type = xhr.getResponseHeader("Content-Type") || "";
        if (xhr.status === 200 && type.indexOf("application/json") === 0) {
          var next = JSON.parse(xhr.responseText).redirect;
          show("Đã đọc xong, đang mở bản xem trước…", 100);
          window.location.assign(next);
          return;
        }
        // A refusal (400) or another page: show its content in place of this one.
        var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var fresh = page.querySelector("main");
        var main = document.querySelector("main");
        if (!fresh || !main) {
          window.location.reload();
          return;
        }
        main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
        var again = main.querySelector("form[data-plan-upload]");
        if (again) bind(again);
        var alert = main.querySelector("[role=alert]");
        if (alert) alert.scrollIntoView({ block: "center" });
      });
      xhr.addEventListener("error", function () {
        show("Mất kết nối khi gửi tệp. Hãy thử lại.", 0);
        form.querySelectorAll("button[type=submit]").forEach(function (b) {
          b.disabled = false;
          b.textContent = "Đọc tệp và xem trước";
        });
      });
      var data = new FormData(form);
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.disabled = true;
        b.textContent = form.dataset.busy || "Đang đọc tệp…";
      });
      show("Đang tải tệp lên…", 0);
      xhr.send(data);
    });
  }

  document.querySelectorAll("form[data-plan-upload]").forEach(bind);
});
