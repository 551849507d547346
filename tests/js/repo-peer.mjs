// A stock automerge-repo client for CoGov's interop test (driven by tests/realtime/test_interop.py).
//
//   node tests/js/repo-peer.mjs <syncUrl> <documentUrl> <insertText> <waitFor>
//
// Connects a Repo with the stock WebSocket adapter, finds the document, inserts <insertText> at
// the start of its body, then waits until the body contains <waitFor>. Reports each step as a JSON
// line on stdout: {"event": "found" | "edited" | "saw", "text": ...}. Exits 1 on timeout.
import { Repo } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import * as A from "@automerge/automerge";

const [syncUrl, documentUrl, insertText, waitFor] = process.argv.slice(2);
const report = (event, text) => process.stdout.write(JSON.stringify({ event, text }) + "\n");
setTimeout(() => {
  process.stderr.write("timed out\n");
  process.exit(1);
}, 30000);

const repo = new Repo({ network: [new WebSocketClientAdapter(syncUrl)] });
const handle = await repo.find(documentUrl);
report("found", handle.doc().body.toString());

handle.change((doc) => A.splice(doc, ["body"], 0, 0, insertText));
report("edited", handle.doc().body.toString());

await new Promise((resolve) => {
  const check = () => {
    const text = handle.doc().body.toString();
    if (text.includes(waitFor)) {
      handle.off("change", check);
      report("saw", text);
      resolve();
    }
  };
  handle.on("change", check);
  check();
});
// Give the last sync message time to leave before the socket closes.
await new Promise((resolve) => setTimeout(resolve, 300));
repo.shutdown?.();
process.exit(0);
