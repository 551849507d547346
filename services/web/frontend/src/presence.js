// Who else is on a norm, and where their cursors are. Each browser broadcasts
// {participant, name, colour, cursor, selection} as an automerge-repo ephemeral message when its
// selection moves and every HEARTBEAT_MS; the server relays it and stores nothing. A peer not
// heard from for EXPIRE_MS is gone; one that says {left: true} goes at once.
// People are coloured by the page's slots (services/web/colours.py: the same as "Who wrote what"),
// as class `author-N`; only someone the page did not know of keeps the colour their browser sends.
import { Decoration, EditorView, WidgetType } from "@codemirror/view"
import { StateEffect, StateField } from "@codemirror/state"

const HEARTBEAT_MS = 5000
const EXPIRE_MS = 16000
const COLOUR = /^#[0-9a-fA-F]{6}$/

const setRemote = StateEffect.define()

class Caret extends WidgetType {
  constructor(name, look) {
    super()
    this.name = name
    this.look = look
  }
  eq(other) {
    return other.name === this.name && other.look.className === this.look.className && other.look.colour === this.look.colour
  }
  toDOM() {
    const caret = document.createElement("span")
    dress(caret, "cm-remote-caret", this.look)
    caret.setAttribute("aria-hidden", "true")
    // The name is drawn by CSS (::after), so it is never part of the text.
    caret.dataset.name = this.name
    return caret
  }
  ignoreEvent() {
    return true
  }
}

const remoteCursors = StateField.define({
  create: () => Decoration.none,
  update(decorations, tr) {
    decorations = decorations.map(tr.changes)
    for (const effect of tr.effects) if (effect.is(setRemote)) decorations = effect.value
    return decorations
  },
  provide: field => EditorView.decorations.from(field),
})

function clamp(value, length) {
  return Number.isInteger(value) ? Math.max(0, Math.min(value, length)) : null
}

// {className, colour}: the person's slot class, or (unknown to the page) the colour they sent.
function lookOf(person, slots) {
  const slot = slots[person.participant]
  return Number.isInteger(slot) ? { className: `author-${slot}`, colour: null } : { className: "", colour: person.colour }
}

function dress(element, base, look) {
  element.className = look.className ? `${base} ${look.className}` : base
  if (look.colour) element.style.setProperty("--author", look.colour)
}

function decorationsFor(peers, length, slots) {
  const ranges = []
  for (const peer of peers) {
    const head = clamp(peer.selection?.head ?? peer.cursor, length)
    if (head === null) continue
    const anchor = clamp(peer.selection?.anchor, length) ?? head
    const look = lookOf(peer, slots)
    if (anchor !== head) {
      const mark = look.className
        ? Decoration.mark({ class: `cm-remote-selection ${look.className}` })
        : Decoration.mark({ class: "cm-remote-selection", attributes: { style: `--author: ${look.colour}` } })
      ranges.push(mark.range(Math.min(anchor, head), Math.max(anchor, head)))
    }
    ranges.push(Decoration.widget({ widget: new Caret(peer.name, look), side: 1 }).range(head))
  }
  return Decoration.set(ranges, true)
}

function valid(message) {
  return (
    message && typeof message === "object" && typeof message.participant === "string" &&
    typeof message.name === "string" && message.name.length <= 120 && typeof message.colour === "string" && COLOUR.test(message.colour)
  )
}

export class Presence {
  constructor({ handle, me, list, canEdit, slots }) {
    this.handle = handle
    this.slots = slots || {} // participant id → colour slot, from the page
    this.me = me // {participant, name, colour} or null when signed out (then we only listen)
    this.list = list
    this.canEdit = canEdit
    this.view = null
    this.peers = new Map() // senderId → {participant, name, colour, cursor, selection, seen}
    this.lastSent = 0
    this.sendTimer = null
    this.onMessage = this.onMessage.bind(this)
    handle.on("ephemeral-message", this.onMessage)
    this.heartbeat = setInterval(() => {
      this.expire()
      if (Date.now() - this.lastSent >= HEARTBEAT_MS - 100) this.send()
    }, 1000)
    addEventListener("pagehide", () => this.leave())
    this.render()
  }

  extension() {
    const presence = this
    return [
      remoteCursors,
      EditorView.updateListener.of(update => {
        if (update.selectionSet || update.focusChanged) presence.schedule()
      }),
    ]
  }

  attach(view) {
    this.view = view
    this.send()
  }

  state() {
    const main = this.view && this.canEdit ? this.view.state.selection.main : null
    return {
      ...this.me,
      cursor: main ? main.head : null,
      selection: main ? { anchor: main.anchor, head: main.head } : null,
    }
  }

  schedule() {
    if (this.sendTimer !== null) return
    this.sendTimer = setTimeout(() => {
      this.sendTimer = null
      this.send()
    }, 120)
  }

  send() {
    if (!this.me) return
    this.lastSent = Date.now()
    try {
      this.handle.broadcast(this.state())
    } catch {
      // Not connected: the next heartbeat tries again.
    }
  }

  leave() {
    if (this.me) {
      try {
        this.handle.broadcast({ ...this.me, cursor: null, selection: null, left: true })
      } catch {}
    }
  }

  onMessage({ senderId, message }) {
    if (!valid(message)) return
    if (message.left) {
      this.peers.delete(senderId)
    } else {
      const known = this.peers.has(senderId)
      this.peers.set(senderId, { ...message, seen: Date.now() })
      // A newcomer learns about us now rather than at our next heartbeat.
      if (!known) this.schedule()
    }
    this.render()
  }

  expire() {
    const now = Date.now()
    let changed = false
    for (const [id, peer] of this.peers) {
      if (now - peer.seen > EXPIRE_MS) {
        this.peers.delete(id)
        changed = true
      }
    }
    if (changed) this.render()
  }

  // Forget everyone when the connection drops: they will say hello again.
  clear() {
    this.peers.clear()
    this.render()
  }

  render() {
    const others = [...this.peers.values()].filter(peer => !this.me || peer.participant !== this.me.participant)
    const byParticipant = new Map()
    for (const peer of others) byParticipant.set(peer.participant, peer)
    const items = []
    if (this.me) items.push({ ...this.me, you: true })
    items.push(...byParticipant.values())
    const key = JSON.stringify(items.map(person => [person.participant, person.name, person.colour]))
    if (key !== this.listed) {
      this.listed = key
      this.list.replaceChildren(
      ...items.map(person => {
        const item = document.createElement("li")
        dress(item, "", lookOf(person, this.slots))
        item.dataset.participant = person.participant
        item.textContent = person.you ? `${person.name} (you)` : person.name
        return item
      }),
      )
    }
    if (this.view) {
      const length = this.view.state.doc.length
      this.view.dispatch({ effects: setRemote.of(decorationsFor(others, length, this.slots)) })
    }
  }
}
