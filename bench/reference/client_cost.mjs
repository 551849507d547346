// What one incoming sync message costs a stock Automerge peer (@automerge/automerge, the library
// inside automerge-repo), by document size and by changes per message: the ceiling on live sync
// when the peers share a machine (bench/compare.py S2). No server: the messages come from a
// second in-process document, as a server's would.
//
//   node bench/reference/client_cost.mjs
//
// The document is typed by 8 writers, one character per change at a random place (as S2's writers
// type); a reader that holds it receives k new changes in one sync message and answers, as an
// automerge-repo peer does. Printed: milliseconds per message (receive + answer), mean of 40.
import { readFileSync } from "node:fs";
import os from "node:os";
import * as A from "@automerge/automerge";
import { random } from "./random.mjs";

const { version } = JSON.parse(readFileSync(new URL("./node_modules/@automerge/automerge/package.json", import.meta.url)));

const next = random(7);
const base = A.from({ body: "" });
const writers = Array.from({ length: 8 }, (_, i) => A.clone(base, { actor: (i + 1).toString(16).padStart(32, "0") }));
let server = A.clone(base);
let typed = 0;

function type(count) {
  for (let i = 0; i < count; i++, typed++) {
    const w = typed % 8;
    writers[w] = A.change(writers[w], (d) => {
      A.splice(d, ["body"], Math.floor(next() * (d.body.length + 1)), 0, "x");
      d[`n_${w}`] = typed;
    });
    // Each writer types into its own replica (as if it heard from nobody): concurrent inserts merge
    // all the same, and the history costs the reader as much.
    [server] = A.applyChanges(server, [A.getLastLocalChange(writers[w])]);
  }
}

function settle(reader, readerState, serverState) {
  for (let round = 0; round < 8; round++) {
    let message;
    [serverState, message] = A.generateSyncMessage(server, serverState);
    if (message) [reader, readerState] = A.receiveSyncMessage(reader, readerState, message);
    [readerState, message] = A.generateSyncMessage(reader, readerState);
    if (message) [server, serverState] = A.receiveSyncMessage(server, serverState, message);
  }
  return [reader, readerState, serverState];
}

const cpu = os.cpus()[0]?.model ?? "unknown CPU";
console.log(`# ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · ${cpu} · ${os.cpus().length} cores · Node ${process.version} · @automerge/automerge ${version}`);
console.log("| characters | changes per message | ms per message | ms per change |");
console.log("|---:|---:|---:|---:|");
for (const size of [1000, 4000, 10000, 15000]) {
  type(size - typed);
  for (const k of [1, 5, 20]) {
    let [reader, readerState, serverState] = settle(A.clone(server), A.initSyncState(), A.initSyncState());
    const repeats = 40;
    let spent = 0;
    for (let r = 0; r < repeats; r++) {
      type(k);
      let message;
      [serverState, message] = A.generateSyncMessage(server, serverState);
      const started = performance.now();
      [reader, readerState] = A.receiveSyncMessage(reader, readerState, message);
      let answer;
      [readerState, answer] = A.generateSyncMessage(reader, readerState);
      spent += performance.now() - started;
      if (answer) [server, serverState] = A.receiveSyncMessage(server, serverState, answer);
    }
    console.log(`| ${reader.body.length} | ${k} | ${(spent / repeats).toFixed(2)} | ${(spent / repeats / k).toFixed(2)} |`);
  }
}
