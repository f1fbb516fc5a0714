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

/* --- dialogs and token page --- */
// Delete confirmations (hx-confirm) open an accessible <dialog> instead of
// the browser's confirm(); Escape closes the New Token form; the card with
// a new token can be dismissed. All delegated, no inline script.
(function () {
  "use strict";
  var dialog = null, pending = null, opener = null;

  function buildDialog() {
    var d = document.createElement("dialog");
    d.className = "confirm-dialog card";
    d.id = "confirm-dialog";
    d.setAttribute("aria-labelledby", "confirm-dialog-title");
    d.setAttribute("aria-describedby", "confirm-dialog-text");
    var h = document.createElement("h2");
    h.id = "confirm-dialog-title";
    h.textContent = "Are you sure?";
    var p = document.createElement("p");
    p.id = "confirm-dialog-text";
    var actions = document.createElement("p");
    actions.className = "dialog-actions";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.value = "cancel";
    cancel.textContent = "Cancel";
    cancel.setAttribute("data-dialog-cancel", "");
    var ok = document.createElement("button");
    ok.type = "button";
    ok.className = "primary danger-fill";
    ok.textContent = "Delete";
    ok.setAttribute("data-dialog-confirm", "");
    actions.appendChild(cancel);
    actions.appendChild(ok);
    d.appendChild(h);
    d.appendChild(p);
    d.appendChild(actions);
    cancel.addEventListener("click", function () { d.close("cancel"); });
    ok.addEventListener("click", function () { d.close("confirm"); });
    // Escape fires "cancel" and then closes with an empty returnValue.
    d.addEventListener("close", function () {
      var go = pending, back = opener;
      pending = null;
      opener = null;
      if (d.returnValue === "confirm" && go) {
        go();
      } else if (back && document.contains(back)) {
        back.focus();
      }
    });
    document.body.appendChild(d);
    return d;
  }

  document.addEventListener("htmx:confirm", function (evt) {
    var question = evt.detail && evt.detail.question;
    if (!question || typeof HTMLDialogElement === "undefined") return;
    evt.preventDefault();
    var elt = evt.detail.elt;
    var active = document.activeElement;
    opener = active && active !== document.body && elt.contains(active) ? active
      : (elt.matches("button") ? elt : elt.querySelector("button[type=submit], button")) || elt;
    if (!dialog || !document.contains(dialog)) dialog = buildDialog();
    // "Delete the token “x”? Anything using it…": the question is the
    // title, what follows it the text.
    var cut = question.indexOf("?") + 1;
    var title = cut > 0 ? question.slice(0, cut) : question;
    var rest = cut > 0 ? question.slice(cut).trim() : "";
    dialog.querySelector("#confirm-dialog-title").textContent = title;
    var text = dialog.querySelector("#confirm-dialog-text");
    text.textContent = rest;
    text.hidden = !rest;
    if (rest) dialog.setAttribute("aria-describedby", "confirm-dialog-text");
    else dialog.removeAttribute("aria-describedby");
    dialog.querySelector("[data-dialog-confirm]").textContent = /^Delete\b/.test(question) ? "Delete" : "OK";
    dialog.returnValue = "";
    pending = function () { evt.detail.issueRequest(true); };
    dialog.showModal();
    dialog.querySelector("[data-dialog-cancel]").focus();
  });

  // Escape in the New Token form, or its Cancel link, closes it in place:
  // the New Token button comes back (and takes focus) without a page load,
  // and a token shown above stays. Without JavaScript Cancel is a link.
  function closeTokenForm(form) {
    if (!window.htmx) return false;
    var p = document.createElement("p");
    p.className = "toolbar";
    var a = document.createElement("a");
    a.className = "button primary";
    a.href = "/api-tokens/new";
    a.setAttribute("hx-get", "/api-tokens/new");
    a.setAttribute("hx-target", "#token-panel");
    a.textContent = "New Token";
    p.appendChild(a);
    form.replaceWith(p);
    window.htmx.process(p);
    a.focus();
    return true;
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape" || ev.defaultPrevented) return;
    var form = ev.target.closest && ev.target.closest("#token-form");
    if (form && closeTokenForm(form)) ev.preventDefault();
  });
  document.addEventListener("click", function (ev) {
    var cancel = ev.target.closest("#token-form a.cancel");
    if (cancel && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey && closeTokenForm(cancel.closest("#token-form"))) ev.preventDefault();
  });

  // Dismiss removes the card it names and puts focus somewhere sensible.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-dismiss]");
    if (!btn) return;
    var card = document.getElementById(btn.getAttribute("data-dismiss"));
    if (!card) return;
    ev.preventDefault();
    var next = document.querySelector(btn.getAttribute("data-dismiss-focus") || "#token-name, #token-panel a.button");
    card.remove();
    if (next) next.focus();
  });
})();
/* --- end dialogs and token page --- */

/* --- brand, icons, theme, phone --- */
// The theme choice (System, Light, Dark) and the phone menu. The saved
// theme is applied above, before the first paint; System is no override
// at all, so the page follows prefers-color-scheme.
(function () {
  "use strict";
  var root = document.documentElement;

  function savedTheme() {
    var v = null;
    try { v = localStorage.getItem("knot-theme"); } catch (e) { /* storage blocked */ }
    return v === "light" || v === "dark" ? v : "system";
  }

  function chooseTheme(theme) {
    if (theme === "light" || theme === "dark") {
      root.dataset.theme = theme;
      try { localStorage.setItem("knot-theme", theme); } catch (e) { /* storage blocked */ }
    } else {
      delete root.dataset.theme;
      try { localStorage.removeItem("knot-theme"); } catch (e) { /* storage blocked */ }
    }
  }

  // The select comes after this script: show the saved choice once it is there.
  function showChoice() {
    document.querySelectorAll("[data-theme-choice]").forEach(function (sel) { sel.value = savedTheme(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showChoice);
  else showChoice();
  // Back and forward may bring a page from the cache with an older choice.
  window.addEventListener("pageshow", showChoice);

  document.addEventListener("change", function (ev) {
    var sel = ev.target.closest && ev.target.closest("[data-theme-choice]");
    if (sel) chooseTheme(sel.value);
  });

  function setMenu(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    root.classList.toggle("menu-open", open);
  }

  // The phone menu: CSS hides the sidebar behind the Menu button on narrow
  // screens, only when this script runs (html.js), so that without
  // JavaScript the menu stays in view.
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("[data-menu-toggle]");
    if (button) setMenu(button, button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape" || !root.classList.contains("menu-open")) return;
    var button = document.querySelector("[data-menu-toggle]");
    if (!button) return;
    setMenu(button, false);
    button.focus();
  });
})();
/* --- end brand, icons, theme, phone --- */

/* --- dialogs and token page (continued) --- */
// After a create, focus goes to the new token's Copy button, not back into
// the fresh, empty name field, so that an extra Enter cannot submit it.
document.addEventListener("htmx:afterSettle", function (evt) {
  "use strict";
  var target = evt.detail && evt.detail.target;
  if (!target || target.id !== "token-panel") return;
  var copy = target.querySelector("#token-created button[data-copy]");
  if (copy) copy.focus();
});
// Content htmx has just swapped in is processed only as it settles: a form
// submitted in between (Enter pressed again at once) would be posted as a
// whole page. Such a submit is dropped; htmx takes the form over shortly.
document.addEventListener("submit", function (ev) {
  "use strict";
  var form = ev.target;
  if (!window.htmx || !form.matches || !form.matches("form[hx-post]") || form["htmx-internal-data"]) return;
  if (form.closest("." + (window.htmx.config.addedClass || "htmx-added"))) ev.preventDefault();
}, true);
