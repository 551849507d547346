// The live editor of a norm page: CodeMirror 6 on an automerge-repo Repo that syncs over the
// server's WebSocket and keeps a copy in IndexedDB, so edits made offline survive a reload and
// reach the others on reconnect. Members edit; everyone else gets a live, read-only view.
import { initializeWasm, parseAutomergeUrl, Repo } from "@automerge/automerge-repo/slim"
import { IndexedDBStorageAdapter } from "@automerge/automerge-repo-storage-indexeddb"
import { EditorState } from "@codemirror/state"
import { EditorView, keymap, drawSelection, highlightActiveLine } from "@codemirror/view"
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands"
import * as A from "@automerge/automerge/slim"
import { batchedAutomergeSync } from "./batched-sync.js"
import { PendingEdits } from "./pending-edits.js"
import { ConnectionStatus, TicketedWebSocketAdapter } from "./connection.js"
import { Presence } from "./presence.js"
import { CommentAnchors } from "./anchors.js"
import { followChangeCount } from "./change-count.js"
import { lineDirection } from "./line-direction.js"

const BODY = ["body"]

function text(value) {
  return value === undefined || value === null ? "" : String(value)
}

async function start() {
  const configElement = document.getElementById("editor-config")
  const host = document.getElementById("editor")
  if (!configElement || !host) return
  const config = JSON.parse(configElement.textContent)
  const bar = document.getElementById("live-bar")
  const connection = document.getElementById("connection")
  const titleElement = document.getElementById("norm-title")

  await initializeWasm(fetch(config.wasmUrl))

  const adapter = new TicketedWebSocketAdapter({
    syncPath: config.syncPath,
    ticketPath: config.ticketPath,
    csrfToken: config.csrfToken,
    signedIn: !!config.me,
    onTicketProblem: error => status.ticketProblem(error),
    onClosed: event => status.closed(event),
  })
  // One local database per participant: one person's unsynced edits are never sent as another's.
  const storage = new IndexedDBStorageAdapter(`cogov-${config.me ? config.me.participant : "guest"}`)
  const status = new ConnectionStatus({
    element: connection,
    adapter,
    documentId: parseAutomergeUrl(config.documentUrl).documentId,
    words: config.words,
  })
  const repo = new Repo({ network: [adapter], storage })

  const handle = await repo.find(config.documentUrl)

  const presence = new Presence({ handle, me: config.me, list: document.getElementById("presence"), canEdit: config.canEdit, slots: config.colourSlots })
  status.attach(handle, { onDisconnected: () => presence.clear() })

  // Keystrokes are on this device from the first one: while held (pending-edits.js), then in their change.
  const pending = new PendingEdits({ storage, documentId: handle.documentId })
  let writes = 0
  const saving = write => {
    writes += 1
    status.savingLocally(true)
    write.catch(error => console.warn("cogov editor: could not save on this device", error)).finally(() => {
      writes -= 1
      if (writes === 0) status.savingLocally(false)
    })
  }
  const sync = batchedAutomergeSync({
    handle,
    path: BODY,
    burstMs: 210,
    onPending: ({ base, changes }) => {
      saving(pending.keep({ actor: A.getActorId(handle.doc()), base, changes }))
      status.refresh()
    },
    onLocalChange: saveChange,
  })
  // Saved in the same task as it is made, so IndexedDB stores the change before any later keystroke's record.
  function saveChange() {
    saving(repo.flush([handle.documentId]).then(() => (sync.hasPending() ? undefined : pending.forget())))
  }
  status.countPending(() => sync.hasPending())
  await pending.restore(handle, BODY, saveChange)

  const anchors = config.comments
    ? new CommentAnchors({ handle, sync, config: config.comments, list: document.getElementById("anchored-comments") })
    : null
  // The discussion's threads on passages, each chosen in the text of its day; the page refreshes the discussion
  // (static/discussion.js), and with it the threads to follow.
  const threadPassages = () => ({ heads: [], comments: JSON.parse(document.getElementById("thread-passages")?.textContent || "[]") })
  const threads = new CommentAnchors({ handle, sync, config: threadPassages(), list: () => document.getElementById("threads"), key: "thread" })
  document.addEventListener("cogov:discussion", () => threads.reset(threadPassages()))

  const readOnly = !config.canEdit
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: text(handle.doc()?.body),
      extensions: [
        history(),
        drawSelection(),
        highlightActiveLine(),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        EditorView.lineWrapping,
        lineDirection,
        // The page's Content-Security-Policy admits CodeMirror's own <style> element by this nonce.
        EditorView.cspNonce.of(config.cspNonce || ""),
        EditorState.readOnly.of(readOnly),
        EditorView.editable.of(!readOnly),
        EditorView.contentAttributes.of({
          "aria-label": readOnly ? config.words.labelReadOnly : config.words.label,
          "aria-readonly": String(readOnly),
          ...(readOnly ? { tabindex: "0" } : {}),
        }),
        sync.extension,
        presence.extension(),
        anchors ? anchors.extension() : [],
        threads.extension(),
      ],
    }),
  })
  host.querySelector("#norm-text")?.remove()
  host.classList.add("live")
  host.dataset.live = "true"
  presence.attach(view)
  anchors?.attach(view)
  threads.attach(view)
  bar.hidden = false
  // The live editor replaces the plain form; it stays reachable without JavaScript.
  const plain = document.getElementById("plain-edit")
  if (plain) plain.hidden = true

  handle.on("change", ({ doc }) => {
    const title = text(doc?.title)
    if (title && titleElement && titleElement.textContent !== title) titleElement.textContent = title
  })

  followChangeCount(handle, document.getElementById("change-count"))

  // The page may be gone before any timer runs again: make the change, save it and send it now.
  const flushNow = () => {
    sync.flush()
    status.sendUnconfirmed()
  }
  addEventListener("beforeunload", flushNow)
  addEventListener("pagehide", flushNow)
  document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && flushNow())
  addEventListener("offline", () => {
    flushNow()
    adapter.pause()
  })
  addEventListener("online", () => adapter.resume())
  if (!navigator.onLine) adapter.pause()

  window.cogovEditor = { view, handle, repo, status, presence, anchors, threads, pending, flush: flushNow }
  keepForOffline(config)
}

// Register the service worker and put this page and what it loads in its cache now, so that
// a reload without a connection finds them even on the first visit.
async function keepForOffline(config) {
  if (!("serviceWorker" in navigator) || !("caches" in window)) return
  try {
    await navigator.serviceWorker.register("/sw.js")
    const cache = await caches.open("cogov-offline-v1")
    const assets = [...document.querySelectorAll('link[rel="stylesheet"], script[src]')].map(e => e.href || e.src)
    await Promise.all([location.pathname, config.wasmUrl, ...assets].map(url => cache.add(url)))
  } catch (error) {
    console.warn("cogov editor: offline copy unavailable", error)
  }
}

start().catch(error => {
  const connection = document.getElementById("connection")
  const bar = document.getElementById("live-bar")
  if (connection && bar) {
    bar.hidden = false
    connection.dataset.state = "offline"
    connection.textContent = connection.dataset.failed
  }
  console.error("cogov editor:", error)
})
