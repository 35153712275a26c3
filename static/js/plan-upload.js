// The plan upload page: shows the upload's progress, then follows the background job that reads
// the file ("Đang chờ xử lý…", "Đang đọc tệp…") by polling its status, then opens the preview,
// or shows the refusal in place. The upload's own page (nhap/<id>/) polls the same way.
// Without this script the form posts normally and the upload's page reloads itself.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";

  function replaceMain(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var fresh = page.querySelector("main");
    var main = document.querySelector("main");
    if (!fresh || !main) return false;
    main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
    var again = main.querySelector("form[data-plan-upload]");
    if (again) bind(again);
    var alert = main.querySelector("[role=alert]");
    if (alert) alert.scrollIntoView({ block: "center" });
    return true;
  }

  // Ask the job's status every second until it is no longer waiting; then open its page
  // (the preview), or, when the file was refused, show that page here in place.
  function follow(status, show, inPlace) {
    var tries = 0;
    function ask() {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", status.poll);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.addEventListener("load", function () {
        var data = null;
        try {
          data = xhr.status === 200 ? JSON.parse(xhr.responseText) : null;
        } catch (e) {
          data = null;
        }
        if (!data) {
          window.location.assign(status.page);
          return;
        }
        handle(data);
      });
      xhr.addEventListener("error", function () {
        show("Mất kết nối, đang thử lại…", null);
        window.setTimeout(ask, 3000);
      });
      xhr.send();
    }
    function handle(data) {
      show(data.label, data.status === "done" ? 100 : null);
      if (data.waiting) {
        tries += 1;
        window.setTimeout(ask, tries < 10 ? 500 : 1500);
        return;
      }
      if (data.status === "done" || !inPlace) {
        window.location.assign(data.page);
        return;
      }
      var page = new XMLHttpRequest();
      page.open("GET", data.page);
      page.addEventListener("load", function () {
        if (!replaceMain(page.responseText)) window.location.assign(data.page);
      });
      page.addEventListener("error", function () {
        window.location.assign(data.page);
      });
      page.send();
    }
    handle(status);
  }

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
          show("Đang chờ xử lý…", null);
        }
      });
      xhr.upload.addEventListener("load", function () {
        show("Đang chờ xử lý…", null);
      });
      xhr.addEventListener("load", function () {
        var type = xhr.getResponseHeader("Content-Type") || "";
        if (xhr.status === 202 && type.indexOf("application/json") === 0) {
          follow(JSON.parse(xhr.responseText), show, true);
          return;
        }
        // A refusal of the form (400) or another page: show its content in place of this one.
        if (!replaceMain(xhr.responseText)) window.location.reload();
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

  // The upload's own page while the job waits or runs.
  document.querySelectorAll("[data-upload-poll]").forEach(function (card) {
    var label = card.querySelector("[data-upload-label]");
    var bar = card.querySelector("progress");
    follow(
      { poll: card.dataset.uploadPoll, page: card.dataset.uploadPage, waiting: true, label: label ? label.textContent : "" },
      function (text, percent) {
        if (label) label.textContent = text;
        if (bar && percent !== null) bar.value = percent;
      },
      false
    );
  });
});
