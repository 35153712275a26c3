// The step page's report form: a character counter on each limited text, nothing sent while a
// text is over its limit (never cut: the server refuses it too), and the draft saved by itself a
// moment after the person stops typing. No inline script (content security policy).
(function () {
  "use strict";

  var AUTOSAVE_DELAY_MS = 2000;

  function count(text) {
    // Characters as the server counts them (code points; newlines as one).
    return Array.from(text.replace(/\r\n?/g, "\n")).length;
  }

  function grouped(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
  }

  function setUpCounter(area) {
    var limit = parseInt(area.dataset.limit, 10);
    var counter = document.createElement("div");
    counter.className = "counter";
    counter.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", counter);
    function update() {
      var n = count(area.value);
      var over = n > limit;
      counter.textContent = grouped(n) + " / " + grouped(limit) + (over ? " – vượt giới hạn, hãy rút gọn" : "");
      counter.classList.toggle("over", over);
      area.classList.toggle("over", over);
      return !over;
    }
    area.addEventListener("input", update);
    update();
    return update;
  }

  function setUpForm(form) {
    var checks = [];
    form.querySelectorAll("textarea[data-limit]").forEach(function (area) {
      checks.push({ area: area, ok: setUpCounter(area) });
    });
    function firstOver() {
      for (var i = 0; i < checks.length; i++) {
        if (!checks[i].ok()) return checks[i].area;
      }
      return null;
    }
    var status = form.querySelector("[data-autosave-status]");
    function say(text, isError) {
      if (!status) return;
      status.textContent = text;
      status.classList.toggle("error", !!isError);
    }

    var timer = null;
    var lastSent = null;
    var submitting = false;

    form.addEventListener("submit", function (event) {
      var over = firstOver();
      if (over) {
        event.preventDefault();
        say("Chưa gửi: có nội dung vượt giới hạn ký tự. Hãy rút gọn rồi gửi lại.", true);
        over.focus();
        return;
      }
      submitting = true;
      if (timer) window.clearTimeout(timer);
    });

    var url = form.dataset.autosave;
    if (!url) return;

    function snapshot() {
      var data = new FormData(form);
      data.delete("file");
      data.delete("action");
      data.delete("remove");
      var parts = [];
      data.forEach(function (value, key) {
        if (key !== "csrfmiddlewaretoken") parts.push(key + "=" + value);
      });
      return { data: data, key: parts.join("&") };
    }
    lastSent = snapshot().key;

    function save() {
      timer = null;
      if (submitting) return;
      if (firstOver()) {
        say("Chưa tự động lưu: có nội dung vượt giới hạn ký tự.", true);
        return;
      }
      var current = snapshot();
      if (current.key === lastSent) return;
      current.data.append("action", "autosave");
      say("Đang lưu nháp…", false);
      fetch(url, {
        method: "POST",
        body: current.data,
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", Accept: "application/json" },
      })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        })
        .then(function (result) {
          if (result.ok) {
            lastSent = current.key;
            say(result.body.message, false);
          } else {
            say(result.body.error || "Chưa lưu được nháp.", true);
          }
        })
        .catch(function () {
          say("Chưa lưu được nháp (mất kết nối?). Nội dung vẫn còn trên trang.", true);
        });
    }

    function later() {
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(save, AUTOSAVE_DELAY_MS);
    }
    form.addEventListener("input", function (event) {
      if (event.target.type !== "file") later();
    });
    form.addEventListener("change", function (event) {
      if (event.target.type !== "file") later();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-report-form]").forEach(setUpForm);
  });
})();
