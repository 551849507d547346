// A JS Automerge peer for CoGov's tests (driven by tests/jspeer.py).
//
//   node tests/js/peer.mjs edit <in.automerge> <out.changes> <actorHex> <index> <deleteCount> <insertText>
//     Loads a saved document (a map with `body` Text), splices its body as <actorHex>, writes the
//     new change(s), concatenated. <index> and <deleteCount> count code points, as CoGov does.
//   node tests/js/peer.mjs create <out.automerge> <title> <text>
//     Writes a new document {title, body} saved by JS (JS 3 makes both strings Text).
import { readFileSync, writeFileSync } from "node:fs";
import * as A from "@automerge/automerge";

// JS Automerge indexes text in UTF-16 code units; the Python side counts code points.
function utf16Offset(text, codePoints) {
  const head = [...text].slice(0, codePoints);
  if (head.length < codePoints) throw new Error(`index ${codePoints} is past the end of the text`);
  return head.join("").length;
}

function edit(input, output, actor, index, deleteCount, insert) {
  const before = A.load(new Uint8Array(readFileSync(input)), { actor });
  const text = before.body.toString();
  const start = utf16Offset(text, index);
  const removed = utf16Offset(text, index + deleteCount) - start;
  const after = A.change(before, (doc) => A.splice(doc, ["body"], start, removed, insert));
  writeFileSync(output, Buffer.concat(A.getChanges(before, after)));
}

function create(output, title, text) {
  writeFileSync(output, A.save(A.from({ title, body: text })));
}

const [command, ...args] = process.argv.slice(2);
if (command === "edit" && args.length === 6) {
  const [input, output, actor, index, deleteCount, insert] = args;
  edit(input, output, actor, Number(index), Number(deleteCount), insert);
} else if (command === "create" && args.length === 3) {
  create(...args);
} else {
  process.stderr.write("usage: peer.mjs edit IN OUT ACTOR INDEX DELETE TEXT | create OUT TITLE TEXT\n");
  process.exit(2);
}
