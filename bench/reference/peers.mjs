// The load generator of bench/compare.py: stock automerge-repo peers, the same for CoGov and the reference.
//
//   node bench/reference/peers.mjs run <config.json>      type and watch (scenarios S1, S2, S3, S5);
//                                                         prints "ready", reads the start time on stdin
//   node bench/reference/peers.mjs create <config.json>   create documents on a server (the reference)
//   node bench/reference/peers.mjs generate <config.json> the paper trace as Automerge changes (S4)
//   node bench/reference/peers.mjs seed <config.json>     push one document to a server once (S4)
//   node bench/reference/peers.mjs join <config.json>     cold joins, each timed to the full text (S4)
//
// Each peer is its own Repo with its own WebSocketClientAdapter (one socket), without storage. A
// writer's change splices one character into `body` and sets the root key `n_<writer>` to the
// change's sequence number (1, 2, …); every peer records when it first sees each number of each
// other writer. Send times and arrival times are wall-clock milliseconds of this machine
// (Date.now()), so several processes can be compared. The result
// is written as JSON to <config.json>.result; the process's own CPU time is part of it.
import { readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import * as A from "@automerge/automerge";
import { random } from "./random.mjs";
import { Repo } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

// Date.now(), not performance.timeOrigin + now(): the origin of each process can be tens of ms off.
const now = () => Date.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const errors = [];
process.on("unhandledRejection", (error) => errors.push(String(error)));
// A socket error the client library leaves unhandled (a connect that timed out while a server was
// busy, say) is recorded, not fatal: the library dials again, and the figures say what was lost.
process.on("uncaughtException", (error) => errors.push(String(error)));

const connect = (url) => new Repo({ network: [new WebSocketClientAdapter(url)] });

function within(promise, ms, what) {
  let timer;
  const late = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const connected = (repo) =>
  repo.peers.length ? Promise.resolve() : new Promise((resolve) => repo.networkSubsystem.once("peer", resolve));

// A Repo connected to the server (its `peer` message answered), then the document found. Under
// load a socket can take longer than the Repo waits before declaring a document unavailable, so
// the find waits for the connection and is retried.
async function connectAndFind(url, doc, timeout = 120) {
  const repo = connect(url);
  const deadline = now() + timeout * 1000;
  await within(connected(repo), timeout * 1000, "no connection");
  for (;;) {
    try {
      return { repo, handle: await within(repo.find(doc), 20000, "find gave nothing") };
    } catch (error) {
      if (now() > deadline) {
        await shutdown(repo);
        throw error;
      }
      await sleep(250);
    }
  }
}

// CoGov's writers: a ticket (single use, valid 60 s) fetched with the member's bearer token just
// before the peer connects, as the editor does, so a long join phase cannot outlive it.
async function ticketUrl({ api, token, sync }) {
  const response = await fetch(`${api}/api/v1/sync/tickets`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`ticket refused: ${response.status}`);
  return `${sync}?ticket=${(await response.json()).ticket}`;
}

const shutdown = (repo) => within(repo.shutdown(), 5000, "shutdown").catch(() => {});

async function inBatches(items, size, work) {
  const results = [];
  for (let start = 0; start < items.length; start += size) {
    results.push(...(await Promise.all(items.slice(start, start + size).map(work))));
  }
  return results;
}

// --- run: writers type, every peer records arrivals -----------------------------------------

async function startSignal() {
  // "ready" on stdout once every peer has joined; the start time (epoch ms) comes back on stdin, so
  // that typing starts when every client process is ready, however long joining took.
  process.stdout.write("ready\n");
  let buffered = "";
  for await (const chunk of process.stdin) {
    buffered += chunk;
    if (buffered.includes("\n")) return Number(buffered.trim());
  }
  throw new Error("no start time on stdin");
}

async function run({ peers, seconds, rate, settle = 3, warmup = 0 }) {
  const joined = await inBatches(peers, 25, async (peer) => {
    const seen = {};
    const arrivals = {};
    let repo, handle;
    try {
      ({ repo, handle } = await connectAndFind(peer.ticket ? await ticketUrl(peer.ticket) : peer.url, peer.doc, 60));
    } catch (error) {
      errors.push(`peer of ${peer.doc} did not join: ${error}`);
      return { peer: { ...peer, writer: null, failedWriter: peer.writer }, repo: null, handle: null, arrivals };
    }
    const watch = ({ doc }) => {
      const at = now();
      for (const key of Object.keys(doc)) {
        if (!key.startsWith("n_") || key === `n_${peer.writer}`) continue;
        const seq = doc[key];
        const last = seen[key] ?? 0;
        if (seq > last) {
          const times = (arrivals[key.slice(2)] ??= []);
          for (let k = last + 1; k <= seq; k++) times[k - 1] = at;
          seen[key] = seq;
        }
      }
    };
    handle.on("change", watch);
    watch({ doc: handle.doc() });
    return { peer, repo, handle, arrivals };
  });
  const startAt = await startSignal();
  const cpuAtStart = sleep(startAt - now()).then(() => process.cpuUsage());
  const sent = {};
  const type = async ({ peer, handle }) => {
    const next = random(peer.seed);
    const times = (sent[peer.writer] = []);
    // Typing starts `warmup` seconds before the measured period (its edits are sent and delivered
    // like any other; bench/compare.py leaves them out of the figures).
    let at = startAt - warmup * 1000 + (next() * 1000) / rate;
    while (at < startAt + seconds * 1000) {
      await sleep(at - now());
      // A process too busy to type on time skips what it could not type before the end, rather
      // than sending the backlog afterwards and running on for as long again: the figures then
      // show fewer edits typed than offered.
      if (now() >= startAt + seconds * 1000) break;
      const seq = times.length + 1;
      try {
        handle.change((doc) => {
          const index = Math.floor(next() * (doc.body.length + 1));
          A.splice(doc, ["body"], index, 0, "abcdefghijklmnopqrstuvwxyz "[Math.floor(next() * 27)]);
          doc[`n_${peer.writer}`] = seq;
        });
      } catch (error) {
        errors.push(`writer ${peer.writer} stopped after ${seq - 1} edits: ${error}`);
        return;
      }
      times.push(now());
      at += 1000 / rate;
    }
  };
  await sleep(startAt - warmup * 1000 - now());
  await Promise.all(joined.filter(({ peer }) => peer.writer).map(type));
  await sleep(startAt + seconds * 1000 - now() + settle * 1000);
  const cpu = process.cpuUsage(await cpuAtStart);
  const result = {
    sent,
    peers: joined.map(({ peer, arrivals }) => ({ doc: peer.doc, writer: peer.writer ?? peer.failedWriter ?? null, arrivals })),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    errors,
  };
  await Promise.all(joined.filter(({ repo }) => repo).map(({ repo }) => shutdown(repo)));
  return result;
}

// --- create: documents on a server that has no API of its own -------------------------------

async function create({ url, count, title, text }) {
  const repo = connect(url);
  const handles = [];
  for (let i = 0; i < count; i++) {
    handles.push(repo.create({ title, body: text }));
  }
  // A second peer finding each one shows the server holds it.
  const check = connect(url);
  await connected(check);
  await inBatches(handles, 25, async (handle) => {
    for (;;) {
      try {
        await check.find(handle.url);
        return;
      } catch {
        await sleep(100);
      }
    }
  });
  await shutdown(check);
  await shutdown(repo);
  return { urls: handles.map((handle) => handle.url) };
}

// --- S4: the paper trace -------------------------------------------------------------------

function generate({ trace, created, editsPerChange, changesOut, snapshotOut, snapshotEvery }) {
  // The creating change is CoGov's own (norms.document.create); the edits are this peer's.
  const { txns, endContent } = JSON.parse(gunzipSync(readFileSync(trace)).toString());
  let doc = A.load(new Uint8Array(readFileSync(created)));
  const patches = txns.flatMap((txn) => txn.patches);
  const out = [];
  for (let start = 0; start < patches.length; start += editsPerChange) {
    doc = A.change(doc, (d) => {
      for (const [index, remove, insert] of patches.slice(start, start + editsPerChange)) {
        A.splice(d, ["body"], index, remove, insert);
      }
    });
    out.push(A.getLastLocalChange(doc));
  }
  if (doc.body.toString() !== endContent) throw new Error("the replayed trace does not end at endContent");
  const lengths = Buffer.alloc(4 * (out.length + 1));
  lengths.writeUInt32LE(out.length, 0);
  out.forEach((change, i) => lengths.writeUInt32LE(change.length, 4 * (i + 1)));
  writeFileSync(changesOut, Buffer.concat([lengths, ...out.map((change) => Buffer.from(change))]));
  // The store's latest snapshot: the document as it stood at the last multiple of snapshotEvery
  // stored changes (the creating change counts).
  const snapshotAt = Math.floor((out.length + 1) / snapshotEvery) * snapshotEvery;
  if (snapshotAt > 0) {
    const [upTo] = A.applyChanges(A.load(new Uint8Array(readFileSync(created))), out.slice(0, snapshotAt - 1));
    writeFileSync(snapshotOut, A.save(upTo));
  }
  return { changes: out.length, snapshotAt, length: endContent.length };
}

async function seed({ url, created, changes, length }) {
  // One peer holding the whole document pushes it once; a second peer finding it whole shows the
  // server has it all.
  const data = readFileSync(changes);
  let doc = A.load(new Uint8Array(readFileSync(created)));
  const parts = splitChanges(data);
  doc = A.applyChanges(doc, parts)[0];
  const repo = connect(url);
  const handle = repo.import(A.save(doc));
  const started = now();
  for (;;) {
    const check = connect(url);
    try {
      await connected(check);
      const found = await check.find(handle.url);
      if (found.doc().body.length === length) {
        await shutdown(check);
        break;
      }
    } catch {
      // not there yet
    }
    await shutdown(check);
    await sleep(500);
  }
  await sleep(1000); // the server's storage writes are debounced
  await shutdown(repo);
  return { url: handle.url, seconds: (now() - started) / 1000, changes: parts.length };
}

function splitChanges(data) {
  // The layout `generate` writes: a little-endian uint32 count n, n uint32 lengths, the n changes.
  const n = data.readUInt32LE(0);
  const parts = [];
  let offset = 4 * (n + 1);
  for (let i = 0; i < n; i++) {
    const size = data.readUInt32LE(4 * (i + 1));
    parts.push(new Uint8Array(data.subarray(offset, offset + size)));
    offset += size;
  }
  return parts;
}

async function join({ urls, doc, length, timeout = 120 }) {
  // Each join: a fresh Repo (nothing cached), from connecting to holding the whole text.
  const seconds = [];
  for (const url of urls) {
    const started = now();
    const { repo, handle } = await connectAndFind(url, doc, timeout);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no full text after ${timeout} s`)), timeout * 1000);
      const check = () => {
        if (handle.doc().body.length === length) {
          clearTimeout(timer);
          handle.off("change", check);
          resolve();
        }
      };
      handle.on("change", check);
      check();
    });
    seconds.push((now() - started) / 1000);
    await shutdown(repo);
  }
  return { seconds };
}

const [command, configPath] = process.argv.slice(2);
const commands = { run, create, generate, seed, join };
if (!(command in commands) || !configPath) {
  process.stderr.write("usage: peers.mjs run|create|generate|seed|join <config.json>\n");
  process.exit(2);
}
const result = await commands[command](JSON.parse(readFileSync(configPath, "utf8")));
// Written synchronously: a large write to a pipe would be cut short by process.exit.
writeFileSync(`${configPath}.result`, JSON.stringify({ ...result, errors }));
process.exit(0);
