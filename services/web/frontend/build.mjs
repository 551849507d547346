// Bundles the live editor into ../static/build with content-hashed names and a manifest.json
// that the pages read (services/web/templating.py). Run by `make` through `npm run build`.
import { createHash } from "node:crypto"
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const here = dirname(fileURLToPath(import.meta.url))
const out = join(here, "..", "static", "build")
const require = createRequire(import.meta.url)

// One Automerge for everyone, the slim build: its wasm is fetched as a file, not inlined as base64.
const slimAutomerge = {
  name: "slim-automerge",
  setup(build) {
    build.onResolve({ filter: /^@automerge\/automerge$/ }, args =>
      build.resolve("@automerge/automerge/slim", { kind: args.kind, resolveDir: args.resolveDir }),
    )
  },
}

// cbor-x (automerge-repo's message codec) probes `new Function` at load, which the pages' Content-Security-Policy
// refuses and reports; its no-eval build decodes the same messages without compiling readers.
const noEvalCbor = {
  name: "no-eval-cbor",
  setup(build) {
    build.onResolve({ filter: /^cbor-x$/ }, args =>
      build.resolve("cbor-x/index-no-eval", { kind: args.kind, resolveDir: args.resolveDir }),
    )
  },
}

// automerge-repo sends a document's new changes at most every 100 ms (its DocSynchronizer's throttle, which no
// option sets), on top of the editor's own batching of keystrokes (batched-sync.js): a change made within 100 ms
// of the last sync (an answer to a co-editor's change, say) waited for it. The editor already makes at most a
// few changes a second, so each goes out as soon as it is made. Fails the build if the library changes shape.
const syncAtOnce = {
  name: "sync-at-once",
  setup(build) {
    build.onLoad({ filter: /automerge-repo[\\/]dist[\\/]synchronizer[\\/]DocSynchronizer\.js$/ }, args => {
      const source = readFileSync(args.path, "utf8")
      const throttle = "syncDebounceRate = 100;"
      if (!source.includes(throttle)) throw new Error(`${args.path}: no "${throttle}" to lower; check sync-at-once in build.mjs`)
      return { contents: source.replace(throttle, "syncDebounceRate = 0;"), loader: "js" }
    })
  },
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const result = await esbuild.build({
  entryPoints: { editor: join(here, "src", "editor.js") },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  sourcemap: false,
  legalComments: "linked",
  entryNames: "[name]-[hash]",
  outdir: out,
  metafile: true,
  define: { "process.env.NODE_ENV": '"production"' },
  plugins: [slimAutomerge, noEvalCbor, syncAtOnce],
  logLevel: "warning",
})

const manifest = {}
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint && file.endsWith(".js")) manifest["editor.js"] = file.split("/").pop()
}

const wasm = require.resolve("@automerge/automerge/automerge.wasm")
const wasmBytes = readFileSync(wasm)
const wasmName = `automerge-${createHash("sha256").update(wasmBytes).digest("hex").slice(0, 12)}.wasm`
copyFileSync(wasm, join(out, wasmName))
manifest["automerge.wasm"] = wasmName

writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n")
console.log("built", Object.values(manifest).join(", "))
