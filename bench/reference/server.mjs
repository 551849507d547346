// The reference: an automerge-repo sync server configured as the Automerge project publishes its own
// (a WebSocketServerAdapter on a `ws` server, NodeFS storage, sharePolicy false), for bench/compare.py.
//
//   node bench/reference/server.mjs <port> [storageDirectory]
//
// Listens on 127.0.0.1:<port>; stores documents in <storageDirectory> (a new temporary directory
// when omitted, removed on exit). Prints "listening <port>" once it accepts connections.
// Like the published server it has no authentication; it serves only the benchmark.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Repo } from "@automerge/automerge-repo";
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";
import { WebSocketServer } from "ws";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write("usage: server.mjs <port> [storageDirectory]\n");
  process.exit(2);
}
const temporary = process.argv[3] === undefined;
const directory = process.argv[3] ?? mkdtempSync(join(tmpdir(), "automerge-reference-"));

const socket = new WebSocketServer({ host: "127.0.0.1", port });
const repo = new Repo({
  network: [new WebSocketServerAdapter(socket)],
  storage: new NodeFSStorageAdapter(directory),
  peerId: `reference-sync-server-${port}`,
  sharePolicy: async () => false,
});

socket.on("listening", () => process.stdout.write(`listening ${port}\n`));

async function stop() {
  await repo.shutdown();
  socket.close();
  if (temporary) rmSync(directory, { recursive: true, force: true });
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
