// A stock automerge-repo client exchanging presence (ephemeral messages) through CoGov's sync server.
//
//   node tests/js/presence-peer.mjs <syncUrl> <documentUrl> <name> <listenFor>
//
// Finds the document, broadcasts {name, cursor} every 100 ms, and waits until it has heard three
// presence messages whose name is <listenFor>; then keeps broadcasting for a second, so the other
// peer hears it too. Reports JSON lines on stdout: {"event": "joined" | "found" | "heard" |
// "disconnected" | "done", ...}. Exits 1 on timeout.
import { Repo } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

const [syncUrl, documentUrl, name, listenFor] = process.argv.slice(2);
const report = (event, detail = {}) => process.stdout.write(JSON.stringify({ event, ...detail }) + "\n");
setTimeout(() => {
  process.stderr.write("timed out\n");
  process.exit(1);
}, 30000);

const adapter = new WebSocketClientAdapter(syncUrl);
let joins = 0;
let disconnects = 0;
adapter.on("peer-candidate", () => report("joined", { joins: ++joins }));
adapter.on("peer-disconnected", () => report("disconnected", { disconnects: ++disconnects }));
const repo = new Repo({ network: [adapter] });
const handle = await repo.find(documentUrl);
report("found");

let heard = 0;
const heardEnough = new Promise((resolve) => {
  handle.on("ephemeral-message", ({ message }) => {
    if (message?.name !== listenFor) return;
    heard += 1;
    report("heard", { message });
    if (heard >= 3) resolve();
  });
});
let sent = 0;
const timer = setInterval(() => handle.broadcast({ name, cursor: ++sent }), 100);
await heardEnough;
await new Promise((resolve) => setTimeout(resolve, 1000));
clearInterval(timer);
report("done", { sent, heard, joins, disconnects });
process.exit(0);
