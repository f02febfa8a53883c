// Sesame dashboard: small progressive enhancements. Everything works
// without this file.
"use strict";
(function () {
  // App type-ahead: an input[data-typeahead] with a list#ID-suggest; the
  // server answers GET /apps.json?q= with [{id, name}].
  function typeahead(input) {
    var list = document.getElementById(input.id + "-suggest");
    if (!list) return;
    var timer = null, seq = 0;
    input.setAttribute("autocomplete", "off");
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim(), my = ++seq;
        if (q === "") { list.textContent = ""; return; }
        fetch("/apps.json?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (apps) {
            if (my !== seq) return;
            list.textContent = "";
            apps.forEach(function (a) {
              var li = document.createElement("li"), link = document.createElement("a");
              link.href = "/requests/new?app=" + encodeURIComponent(a.id);
              link.textContent = a.name + " (" + a.id + ")";
              link.setAttribute("data-app", a.id);
              li.appendChild(link);
              list.appendChild(li);
            });
          })
          .catch(function () { list.textContent = ""; });
      }, 120);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" && list.firstChild) { e.preventDefault(); list.querySelector("a").focus(); }
    });
    list.addEventListener("keydown", function (e) {
      var a = document.activeElement, li = a && a.parentNode;
      if (e.key === "ArrowDown" && li && li.nextSibling) { e.preventDefault(); li.nextSibling.firstChild.focus(); }
      if (e.key === "ArrowUp") { e.preventDefault(); if (li && li.previousSibling) li.previousSibling.firstChild.focus(); else input.focus(); }
    });
  }
  // Check-all boxes: input[data-check-all=NAME] toggles input[name=NAME].
  function checkAll(box) {
    box.addEventListener("change", function () {
      document.querySelectorAll('input[name="' + box.getAttribute("data-check-all") + '"]').forEach(function (c) { c.checked = box.checked; });
    });
  }
  // The request form re-checks the policy when the entitlements change
  // (without JS: the "Update the policy check" button).
  function recheck(box) {
    box.addEventListener("change", function () {
      var b = document.getElementById("recheck");
      if (b) b.click();
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-typeahead]").forEach(typeahead);
    document.querySelectorAll("input[data-check-all]").forEach(checkAll);
    document.querySelectorAll("#request-form input[name=ent]").forEach(recheck);
  });
})();
