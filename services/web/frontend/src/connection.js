// The sync socket and what the page says about it.
//
// A signed-in browser opens each socket with a fresh single-use ticket from the page's own
// endpoint (cookie session + CSRF header); a signed-out one connects without, read-only. The
// status line says connected / reconnecting / offline and how many of our changes the server
// has not confirmed yet, computed from the heads the server last told us it has (kept in
// localStorage, so the count survives a reload while offline), keystrokes not yet in a change counting
// as one more.
import * as A from "@automerge/automerge/slim"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { pluralText } from "./change-count.js"

const RETRY_MS = 3000

function socketUrl(path) {
  const url = new URL(path, location.href)
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
  return url
}

export class TicketedWebSocketAdapter extends WebSocketClientAdapter {
  constructor({ syncPath, ticketPath, csrfToken, signedIn, onTicketProblem, onClosed }) {
    super(socketUrl(syncPath).href, RETRY_MS)
    this.syncPath = syncPath
    this.ticketPath = ticketPath
    this.csrfToken = csrfToken
    this.signedIn = signedIn
    this.onTicketProblem = onTicketProblem
    this.onClosed = onClosed
    this.fetching = false
    this.paused = false
  }

  async address() {
    const url = socketUrl(this.syncPath)
    if (!this.signedIn) return url.href
    const response = await fetch(this.ticketPath, {
      method: "POST",
      headers: { "X-CSRF-Token": this.csrfToken },
      credentials: "same-origin",
      cache: "no-store",
    })
    if (!response.ok) throw Object.assign(new Error(`ticket refused (${response.status})`), { status: response.status })
    const { ticket } = await response.json()
    url.searchParams.set("ticket", ticket)
    return url.href
  }

  connect(peerId, peerMetadata) {
    if (this.fetching || this.paused) return
    this.fetching = true
    this.address().then(
      url => {
        this.fetching = false
        this.url = url
        super.connect(peerId, peerMetadata)
        // The server's close code and reason say why it refused us (the stock adapter drops them).
        this.socket?.addEventListener("close", event => this.onClosed?.(event))
      },
      error => {
        this.fetching = false
        this.onTicketProblem?.(error)
        this.peerId = this.peerId ?? peerId
        this.peerMetadata = this.peerMetadata ?? peerMetadata
        setTimeout(() => this.connect(peerId, peerMetadata), RETRY_MS)
      },
    )
  }

  // automerge-repo passes on the ephemeral messages it hears to its other peers; here the only
  // peer is the server, which relays them itself, so sending them back would only echo.
  send(message) {
    if (message.type === "ephemeral" && message.senderId !== this.peerId) return
    super.send(message)
  }

  // The browser says it is offline: close now instead of waiting for timeouts, and stay closed.
  pause() {
    this.paused = true
    if (this.socket) this.disconnect()
  }

  resume() {
    if (!this.paused) return
    this.paused = false
    if (this.peerId) this.connect(this.peerId, this.peerMetadata)
  }
}

export class ConnectionStatus {
  // Made before the document is found, so that the server's first messages are heard too.
  // `words`: the status line's texts in the page's language (services/web/norms.py `editor_words`).
  constructor({ element, adapter, documentId, words }) {
    this.words = words
    this.element = element
    this.adapter = adapter
    this.handle = null
    this.documentId = documentId
    this.onDisconnected = null
    this.key = `cogov:server-heads:${documentId}`
    this.serverHeads = this.load()
    this.state = navigator.onLine ? "connecting" : "offline"
    this.problem = null
    this.unverified = false
    this.confirmLink = null
    this.unsynced = 0
    this.savedLocally = true
    this.timer = null
    this.pending = () => false

    adapter.on("peer-candidate", () => this.set("connected"))
    adapter.on("peer-disconnected", () => {
      this.set(navigator.onLine ? "reconnecting" : "offline")
      this.onDisconnected?.()
    })
    adapter.on("message", message => {
      if (message.type !== "sync" || message.documentId !== documentId) return
      try {
        this.serverHeads = A.decodeSyncMessage(message.data).heads
        localStorage.setItem(this.key, JSON.stringify(this.serverHeads))
      } catch {}
      this.refresh()
    })
    addEventListener("offline", () => this.set("offline"))
    addEventListener("online", () => this.set("reconnecting"))
  }

  attach(handle, { onDisconnected }) {
    this.handle = handle
    this.onDisconnected = onDisconnected
    handle.on("change", () => this.refresh())
    this.refresh()
  }

  load() {
    try {
      const heads = JSON.parse(localStorage.getItem(this.key) || "null")
      return Array.isArray(heads) ? heads : null
    } catch {
      return null
    }
  }

  set(state) {
    if (state === "connected") this.problem = null
    this.state = state
    this.refresh()
  }

  // The server refused our edits because our address is not confirmed yet: say so until the page is
  // reloaded (reconnecting changes nothing until the address is confirmed).
  closed(event) {
    if (event.code !== 1008 || !event.reason.startsWith("email_unverified")) return
    this.unverified = true
    this.refresh()
  }

  ticketProblem(error) {
    this.problem = error.status === 401 || error.status === 403 ? this.words.signedOut : null
    this.refresh()
  }

  // Whether keystrokes wait to become a change (they are unsynced too).
  countPending(pending) {
    this.pending = pending
  }

  // Sends the server, at once, every change of ours it has not confirmed: for a page about to go, whose
  // timers (automerge-repo's sync is one) may never run again. The server stores a change it has already
  // once, so sending one twice is harmless.
  sendUnconfirmed() {
    const doc = this.handle?.doc()
    const socket = this.adapter.socket
    if (!doc || this.serverHeads === null || !socket || socket.readyState !== WebSocket.OPEN || !this.adapter.remotePeerId) return
    const known = this.serverHeads.filter(head => A.hasHeads(doc, [head]))
    if (known.length === 0) return // not knowing what the server has, sending everything would be too much
    const changes = A.getChangesSince(doc, known)
    if (changes.length === 0) return
    const data = A.encodeSyncMessage({ heads: A.getHeads(doc), need: [], have: [], changes })
    this.adapter.send({ type: "sync", senderId: this.adapter.peerId, targetId: this.adapter.remotePeerId, documentId: this.documentId, data })
  }

  savingLocally(saving) {
    this.savedLocally = !saving
    this.refresh()
  }

  // How many changes in our document the server has not confirmed it holds.
  count() {
    const doc = this.handle?.doc()
    const pending = this.pending() ? 1 : 0
    if (!doc || this.serverHeads === null) return pending
    const known = this.serverHeads.filter(head => A.hasHeads(doc, [head]))
    return A.getChangesMetaSince(doc, known).length + pending
  }

  refresh() {
    if (this.timer !== null || this.handle === null) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.render()
    }, 150)
  }

  render() {
    this.unsynced = this.count()
    const n = this.unsynced
    const words = this.words
    const saved = n && this.savedLocally ? "Saved" : ""
    let text
    if (this.state === "connected") text = n ? pluralText(words.sending, n) : words.connected
    else if (this.state === "offline") text = pluralText(words[`offline${saved}`], n)
    else if (this.state === "reconnecting") text = pluralText(words[`reconnecting${saved}`], n)
    else text = words.connecting
    if (this.problem) text += ` (${this.problem})`
    if (this.unverified) {
      // The link is made once and comes first: as the words after it change, it stays the same element
      // in the same place, so a click never lands on one just replaced or moved.
      if (!this.confirmLink?.isConnected) {
        this.confirmLink = document.createElement("a")
        this.confirmLink.href = "/settings/email"
        this.confirmLink.textContent = words.confirm
        this.element.replaceChildren(this.confirmLink, " — ", "")
      }
      const after = this.element.lastChild
      if (after.data !== text) after.data = text
    } else if (this.element.textContent !== text) this.element.textContent = text
    this.element.dataset.state = this.state
    this.element.dataset.unsynced = String(n)
    this.element.dataset.savedLocally = String(this.savedLocally)
  }
}
