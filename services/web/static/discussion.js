// The norm page's discussion stays current by a light poll: the server answers 304 while nothing changed
// (ETag), and the new HTML otherwise. Without JavaScript the discussion reads and posts as plain forms.
(() => {
  "use strict";
  const live = document.getElementById("discussion");
  if (!live || !live.dataset.liveUrl) return;
  const every = Number(live.dataset.pollMs) || 5000;
  let etag = live.dataset.etag || "";
  let timer = null;

  const typing = () => live.contains(document.activeElement) && /^(TEXTAREA|INPUT)$/.test(document.activeElement.tagName);
  const poll = async () => {
    timer = null;
    try {
      const response = await fetch(live.dataset.liveUrl, { headers: { "If-None-Match": etag }, cache: "no-store" });
      // Someone writing a reply keeps what they typed: the update waits for the next round.
      if (response.status === 200 && !typing()) {
        etag = response.headers.get("ETag") || "";
        live.innerHTML = await response.text();
        // The live editor follows the refreshed threads' passages (frontend/src/editor.js).
        document.dispatchEvent(new CustomEvent("cogov:discussion"));
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
