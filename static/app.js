// knot's browser glue: theme switching and copy-to-clipboard. Loaded in
// <head> so the saved theme applies before the first paint.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("knot-theme"); } catch (e) { /* storage blocked */ }
  if (saved === "light" || saved === "dark") root.dataset.theme = saved;

  function currentTheme() {
    if (root.dataset.theme) return root.dataset.theme;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function announce(el, text) {
    var status = el.closest("[data-copy-scope]") || document;
    var out = status.querySelector("[data-copy-status]") || document.querySelector("[data-copy-status]");
    if (out) {
      out.textContent = text;
      clearTimeout(out._knotTimer);
      out._knotTimer = setTimeout(function () { out.textContent = ""; }, 4000);
    }
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain-HTTP pages have no async clipboard API; fall back to a selection.
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(ta);
      ok ? resolve() : reject(new Error("copy refused"));
    });
  }

  document.addEventListener("click", function (ev) {
    var toggle = ev.target.closest("[data-theme-toggle]");
    if (toggle) {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.dataset.theme = next;
      try { localStorage.setItem("knot-theme", next); } catch (e) { /* storage blocked */ }
      return;
    }
    var el = ev.target.closest("[data-copy]");
    if (!el) return;
    ev.preventDefault();
    copyText(el.getAttribute("data-copy")).then(
      function () { announce(el, "Copied " + (el.getAttribute("data-copy-label") || "to the clipboard")); },
      function () { announce(el, "Copy failed: select the token and copy it by hand"); }
    );
  });
})();
