// One-click copy for the agent console (served as a file: the CSP forbids inline script).
document.addEventListener("click", function (ev) {
  var b = ev.target.closest("[data-copy]");
  if (!b) return;
  var el = document.getElementById(b.getAttribute("data-copy"));
  if (!el) return;
  var text = el.value || el.textContent;
  var done = function () { b.setAttribute("data-copied", "true"); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { el.select(); document.execCommand("copy"); done(); });
  } else {
    el.select();
    document.execCommand("copy");
    done();
  }
});
