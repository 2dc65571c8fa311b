// Small enhancements where JavaScript runs; every page reads and works without it.
// Copy buttons: shown only here, they copy their data-copy value (a sha256, a token, an id).
function enhance(root) {
  root.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (button.dataset.ready) return;
    button.dataset.ready = "1";
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.copy).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
  });
}
document.addEventListener("DOMContentLoaded", function () { enhance(document); });
document.addEventListener("htmx:afterSettle", function (event) { enhance(event.target); });
