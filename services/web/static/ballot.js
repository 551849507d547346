// An open ballot's page keeps its tallies, outcome and votes current by polling with conditional requests (an unchanged ballot is a 304); without JavaScript it reloads by hand.
(() => {
  "use strict";
  const live = document.getElementById("ballot-live");
  if (!live || !live.dataset.liveUrl) return;
  const announce = document.getElementById("ballot-announce");
  const every = Number(live.dataset.pollMs) || 2000;
  let shown = null; // the last HTML the server sent; the page's own is the same, whitespace aside
  let timer = null;

  const poll = async () => {
    timer = null;
    try {
      // Revalidated each time (ETag): an unchanged ballot answers 304 and the browser reuses what it has.
      const response = await fetch(live.dataset.liveUrl, { headers: { Accept: "application/json" }, cache: "no-cache" });
      if (response.ok) {
        const state = await response.json();
        if (state.html !== shown) {
          const first = shown === null;
          live.innerHTML = state.html;
          shown = state.html;
          const outcome = document.getElementById("outcome-text");
          if (!first && announce && outcome) announce.textContent = `${state.voted} of ${state.electors} voted. ${outcome.textContent.trim()}`;
        }
        if (state.status !== "open") {
          window.location.reload(); // the forms go away once it is closed
          return;
        }
      }
    } catch (_) {
      // offline for a moment: try again next round
    }
    schedule();
  };
  const schedule = () => { if (timer === null && !document.hidden) timer = setTimeout(poll, every); };
  document.addEventListener("visibilitychange", () => { if (!document.hidden) schedule(); });
  schedule();
})();
