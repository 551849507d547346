// Anchored comments: pick a passage of a consultation's text, and jump from a comment to its passage in the live editor.
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
  }

  // On a norm page: "Show passage" selects the comment's passage in the editor (or the plain text) and scrolls to it.
  const offset = (text, points) => Array.from(text).slice(0, points).join("").length; // code points → UTF-16
  document.querySelectorAll("[data-passage-start]").forEach((button) => {
    button.addEventListener("click", () => {
      const from = Number(button.dataset.passageStart);
      const to = Number(button.dataset.passageEnd);
      const editor = window.cogovEditor && window.cogovEditor.view;
      if (editor) {
        const text = editor.state.doc.toString();
        const anchor = offset(text, from);
        const head = offset(text, to);
        editor.dispatch({ selection: { anchor, head }, scrollIntoView: true });
        editor.focus();
        document.getElementById("editor").dataset.passage = `${anchor}-${head}`;
        return;
      }
      const plain = document.getElementById("norm-text");
      if (plain && plain.firstChild) {
        const text = plain.textContent;
        const range = document.createRange();
        range.setStart(plain.firstChild, offset(text, from));
        range.setEnd(plain.firstChild, offset(text, to));
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        plain.scrollIntoView({ block: "center" });
      }
    });
  });
})();
