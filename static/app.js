// knot's browser glue: theme switching and copy-to-clipboard. Loaded in
// <head> so the saved theme applies before the first paint.
(function () {
  "use strict";
  var root = document.documentElement;
  // CSS shows what needs this script (the list's Copy buttons) only on
  // .js, so that without JavaScript no button sits there doing nothing.
  root.classList.add("js");
  var saved = null;
  try { saved = localStorage.getItem("knot-theme"); } catch (e) { /* storage blocked */ }
  if (saved === "light" || saved === "dark") root.dataset.theme = saved;

  function currentTheme() {
    if (root.dataset.theme) return root.dataset.theme;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  // announce says how a copy went; a failure is coloured as an error, so
  // that the green of "Copied" means success and nothing else.
  function announce(el, text, failed) {
    var status = el.closest("[data-copy-scope]") || document;
    var out = status.querySelector("[data-copy-status]") || document.querySelector("[data-copy-status]");
    if (out) {
      out.textContent = text;
      out.classList.toggle("failed", !!failed);
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

  // fetchText asks the server for one secret: pages do not carry them.
  // redirect "error": after the session expired, the redirect to the
  // sign-in page must fail the copy, not copy that page.
  function fetchText(url) {
    return fetch(url, { headers: { Accept: "text/plain" }, cache: "no-store", redirect: "error" }).then(function (res) {
      if (!res.ok) throw new Error("HTTP " + res.status);
      return res.text();
    });
  }

  function copyFetched(url) {
    var text = fetchText(url);
    // Safari lets a click write to the clipboard only from within its
    // handler, not after awaiting a fetch: hand the clipboard the text
    // still on its way (a ClipboardItem takes a promise).
    if (window.ClipboardItem && window.isSecureContext && navigator.clipboard && navigator.clipboard.write) {
      try {
        var item = new ClipboardItem({ "text/plain": text.then(function (t) { return new Blob([t], { type: "text/plain" }); }) });
        return navigator.clipboard.write([item]).catch(function () { return text.then(copyText); });
      } catch (e) { /* no promise support: copy once the text is here */ }
    }
    return text.then(copyText);
  }

  document.addEventListener("click", function (ev) {
    var toggle = ev.target.closest("[data-theme-toggle]");
    if (toggle) {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.dataset.theme = next;
      try { localStorage.setItem("knot-theme", next); } catch (e) { /* storage blocked */ }
      return;
    }
    var el = ev.target.closest("[data-copy], [data-copy-url]");
    if (!el) return;
    ev.preventDefault();
    var url = el.getAttribute("data-copy-url");
    (url ? copyFetched(url) : copyText(el.getAttribute("data-copy"))).then(
      function () { announce(el, "Copied " + (el.getAttribute("data-copy-label") || "to the clipboard")); },
      function () {
        announce(el, url ? "Copy failed: click the masked token to open it and copy it by hand" : "Copy failed: select the token and copy it by hand", true);
      }
    );
  });
})();
