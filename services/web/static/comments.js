// Anchored comments: pick a passage of a consultation's text, and jump from a comment to its passage on a norm page.
(() => {
  "use strict";
  const chars = (text) => Array.from(text).length; // the API counts code points

  // On a consultation page: a selection inside the text fills the comment form's anchor.
  const host = document.getElementById("consultation-text");
  const start = document.getElementById("anchor-start");
  if (host && start) {
    const end = document.getElementById("anchor-end");
    const quote = document.getElementById("anchor-quote");
    const pick = () => {
      const selection = window.getSelection();
      if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return;
      const range = selection.getRangeAt(0);
      if (!host.contains(range.startContainer) || !host.contains(range.endContainer)) return;
      const before = document.createRange();
      before.selectNodeContents(host);
      before.setEnd(range.startContainer, range.startOffset);
      const from = chars(before.toString());
      const text = range.toString();
      start.value = String(from);
      end.value = String(from + chars(text));
      quote.value = text;
    };
    host.addEventListener("mouseup", pick);
    host.addEventListener("keyup", pick);

    // From the keyboard: each line of the text takes focus, and Enter or Space makes it the passage.
    const hint = document.getElementById("select-hint");
    if (hint) hint.hidden = false;
    host.querySelectorAll(".line[data-start]").forEach((line) => {
      line.tabIndex = 0;
      line.setAttribute("role", "button");
      line.setAttribute("aria-description", "Press Enter to comment on this line");
      line.addEventListener("keydown", (event) => {
        if (event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        const range = document.createRange();
        range.selectNodeContents(line);
        // Each line but the last holds its newline: the passage is the line's words without it.
        const last = line.lastChild;
        if (last && last.nodeType === Node.TEXT_NODE && last.data.endsWith("\n")) range.setEnd(last, last.data.length - 1);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        start.value = line.dataset.start;
        end.value = line.dataset.end;
        quote.value = line.textContent.replace(/\n$/, ""); // each line but the last holds its newline
      });
    });
    // Words typed in the Passage field replace a selection made in the text; the server finds them.
    quote.addEventListener("input", () => {
      start.value = "";
      end.value = "";
    });
  }

  // On a norm page: "Show passage" selects the comment's passage. The live editor follows passages
  // through edits and answers itself; without it, the passage is the page's marked text.
  // (Listened for on the document: the discussion's list is refreshed in place.)
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button[data-passage]") : null;
    if (!button || window.cogovEditor) return;
    const mark = document.getElementById(`passage-${button.dataset.passage}`);
    if (!mark) return;
    const range = document.createRange();
    range.selectNodeContents(mark);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    mark.scrollIntoView({ block: "center" });
  });
})();
