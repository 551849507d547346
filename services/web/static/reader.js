// The live text of a norm for readers who do not edit: the server sent the text with the page; this
// follows its changes as Server-Sent Events (no editor, no WebAssembly). Each line is its own block
// with dir="auto", so Arabic lines read right to left beside English ones; a change redraws only
// the lines it touches. EventSource reconnects by itself and resumes from the last event's id.
(() => {
  "use strict";
  const host = document.getElementById("norm-text");
  const config = document.getElementById("reader-config");
  if (!host || !config || !("EventSource" in window)) return;
  const { events, since } = JSON.parse(config.textContent);
  const title = document.getElementById("norm-title");
  const bar = document.getElementById("live-bar");
  const status = document.getElementById("connection");

  // The lines as the page has them (each .line holds its text and, but for the last, its newline).
  let lines = Array.from(host.children, (line) => line.textContent.replace(/\n$/, ""));
  if (lines.length === 0) lines = [""];

  const line = (text, last) => {
    const element = document.createElement("div");
    element.className = "line";
    element.dir = "auto";
    element.textContent = last ? text : `${text}\n`;
    return element;
  };

  const redraw = (from, to, replacement) => {
    // Lines [from, to] give way to `replacement`; the others keep their DOM (and their marked passages).
    const total = lines.length - (to - from + 1) + replacement.length;
    const made = replacement.map((text, i) => line(text, from + i === total - 1));
    const after = host.children[to + 1] || null;
    for (let i = to; i >= from; i -= 1) host.children[i]?.remove();
    for (const element of made) host.insertBefore(element, after);
    lines.splice(from, to - from + 1, ...replacement);
  };

  const whereIs = (index) => {
    let at = 0;
    for (let number = 0; number < lines.length; number += 1) {
      if (index <= at + lines[number].length) return [number, index - at];
      at += lines[number].length + 1;
    }
    return [lines.length - 1, lines[lines.length - 1].length];
  };

  const setTitle = (value) => {
    if (title && typeof value === "string" && title.textContent !== value) title.textContent = value;
  };

  // The change count in the page's language: the words for each plural category are on the element.
  const count = document.getElementById("change-count");
  const showCount = (changes) => {
    if (!count || typeof changes !== "number") return;
    const lang = document.documentElement.lang || "en";
    const forms = JSON.parse(count.dataset.forms || "{}");
    const form = forms[new Intl.PluralRules(lang).select(changes)] ?? forms.other ?? "{n}";
    count.textContent = form.replace("{n}", new Intl.NumberFormat(lang).format(changes));
  };

  const say = (state, text) => {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  };

  const source = new EventSource(`${events}?since=${encodeURIComponent(since)}`);
  source.addEventListener("text", (event) => {
    const data = JSON.parse(event.data);
    host.replaceChildren();
    lines = [];
    const all = data.text.split("\n");
    all.forEach((text, i) => host.append(line(text, i === all.length - 1)));
    lines = all;
    setTitle(data.title);
    showCount(data.changes);
    host.dataset.heads = event.lastEventId;
  });
  source.addEventListener("splice", (event) => {
    const data = JSON.parse(event.data);
    if (data.delete || data.insert) {
      const [from, fromOffset] = whereIs(data.index);
      const [to, toOffset] = whereIs(data.index + data.delete);
      const joined = lines[from].slice(0, fromOffset) + data.insert + lines[to].slice(toOffset);
      redraw(from, to, joined.split("\n"));
    }
    setTitle(data.title);
    showCount(data.changes);
    host.dataset.heads = event.lastEventId;
  });
  source.addEventListener("open", () => say("connected", "Live: the text follows the members' edits."));
  source.addEventListener("error", () => say("connecting", "Reconnecting… the text is as last received."));
  if (bar) bar.hidden = false;
  host.dataset.live = "reader";
})();
