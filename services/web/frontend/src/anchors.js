// Comments of a norm's consultation, anchored to passages of the consulted version, followed
// through live edits. Each passage becomes two Automerge cursors made at the version's heads (on
// its first character, moving forward if it is deleted, and on its last, moving back), resolved
// against the live document whenever the editor's text changes: the passage is then highlighted
// where its words are now, its comment sits beside it, and a passage whose characters were all
// deleted leaves its comment detached (unless its words are found elsewhere, as the server finds
// them). Reading cursors changes nothing in the document.
import * as A from "@automerge/automerge/slim"
import { Decoration, EditorView } from "@codemirror/view"
import { StateEffect, StateField } from "@codemirror/state"

const BODY = ["body"]
const WIDE = "(min-width: 60rem)" // the breakpoint of .norm-layout.with-comments in site.css
// Resolving costs about 0.13 ms per passage on a 60,000-character text (bench/anchors.py); between two
// resolutions the highlights follow the editor's transactions, so while someone types, a few a second do.
const RESOLVE_EVERY_MS = 150

const setPassages = StateEffect.define()

const passages = StateField.define({
  create: () => Decoration.none,
  update(decorations, tr) {
    // Between two resolutions, marks follow the editor's own edits.
    decorations = decorations.map(tr.changes)
    for (const effect of tr.effects) if (effect.is(setPassages)) decorations = effect.value
    return decorations
  },
  provide: field => EditorView.decorations.from(field),
})

// The server counts code points; Automerge (in JavaScript) and CodeMirror count UTF-16 units.
function utf16(text, points) {
  let units = 0
  let seen = 0
  for (const character of text) {
    if (seen === points) break
    units += character.length
    seen += 1
  }
  return seen === points ? units : null
}

export class CommentAnchors {
  constructor({ handle, sync, config, list }) {
    this.handle = handle
    this.sync = sync
    this.heads = config.heads
    this.comments = config.comments.filter(c => Number.isInteger(c.start) && Number.isInteger(c.end) && c.end > c.start)
    this.byId = new Map(this.comments.map(c => [c.id, c]))
    this.list = list
    this.view = null
    this.cursors = null // id → {start, end} once the document holds the version
    this.places = new Map() // id → {from, to} in the editor's text, or {from, detached: true}
    this.active = null
    this.timer = null
    this.aligning = null
    this.resolvedAt = -Infinity
    this.wide = matchMedia(WIDE)
    this.onChange = () => this.schedule()
    handle.on("change", this.onChange)
  }

  extension() {
    return [
      passages,
      EditorView.updateListener.of(update => {
        if (update.docChanged) this.schedule()
        else if (update.geometryChanged || update.viewportChanged) this.scheduleAlign()
      }),
      EditorView.domEventHandlers({
        click: event => {
          const mark = event.target instanceof Element ? event.target.closest("[data-comment]") : null
          if (mark) this.activate(mark.dataset.comment)
        },
      }),
    ]
  }

  attach(view) {
    this.view = view
    for (const button of this.list?.querySelectorAll("button[data-passage]") ?? []) {
      button.addEventListener("click", () => this.show(button.dataset.passage))
    }
    for (const item of this.list?.querySelectorAll(".comment[data-comment]") ?? []) {
      item.addEventListener("mouseenter", () => this.activate(item.dataset.comment))
      item.addEventListener("focusin", () => this.activate(item.dataset.comment))
    }
    this.wide.addEventListener("change", () => this.scheduleAlign())
    addEventListener("resize", () => this.scheduleAlign())
    this.resolve()
  }

  // Resolve after the editor's update is over (a view cannot be updated from inside an update).
  schedule() {
    if (this.timer !== null) return
    const wait = Math.max(0, this.resolvedAt + RESOLVE_EVERY_MS - performance.now())
    this.timer = setTimeout(() => {
      this.timer = null
      this.resolve()
    }, wait)
  }

  // Layout is read outside CodeMirror's update cycle.
  scheduleAlign() {
    if (this.aligning) return
    this.aligning = setTimeout(() => {
      this.aligning = null
      this.align()
    }, 0)
  }

  // Cursors for every passage, made once the document holds the consulted version.
  prepare() {
    if (this.cursors) return true
    const doc = this.handle.doc()
    if (!doc || !A.hasHeads(doc, this.heads)) return false
    const version = A.view(doc, this.heads)
    const text = String(version.body ?? "")
    const cursors = new Map()
    for (const comment of this.comments) {
      const from = utf16(text, comment.start)
      const to = utf16(text, comment.end)
      if (from === null || to === null || to <= from || text.slice(from, to) !== comment.quote) continue
      cursors.set(comment.id, {
        start: A.getCursor(version, BODY, from, "after"),
        end: A.getCursor(version, BODY, to - 1, "before"),
      })
    }
    this.cursors = cursors
    return true
  }

  // Where each passage is in the text the editor shows: the document at the heads the editor is
  // reconciled with, then the local edits not yet made into a change.
  resolve() {
    if (!this.view || !this.prepare()) return
    const shown = this.sync.shown()
    if (!shown) return
    let doc = this.handle.doc()
    if (!A.equals(A.getHeads(doc), shown.heads)) doc = A.view(doc, shown.heads)
    const length = this.view.state.doc.length
    const places = new Map()
    let text = null // the editor's text, read once and only if some passage was deleted
    for (const [id, cursor] of this.cursors) {
      let from
      let to
      try {
        from = A.getCursorPosition(doc, BODY, cursor.start)
        to = A.getCursorPosition(doc, BODY, cursor.end) + 1
      } catch {
        continue // the body was replaced by another text object: nothing to follow
      }
      if (shown.pending) {
        from = shown.pending.mapPos(from, 1)
        to = shown.pending.mapPos(to, -1)
      }
      from = Math.min(Math.max(from, 0), length)
      to = Math.min(Math.max(to, 0), length)
      places.set(id, to > from ? { from, to } : this.elsewhere(id, from, (text ??= this.view.state.doc.toString())))
    }
    this.places = places
    this.resolvedAt = performance.now()
    this.render()
  }

  // A passage whose characters were all deleted is carried, as the server does, by the same words
  // elsewhere in the text (the nearest first); with none, its comment is detached.
  elsewhere(id, from, text) {
    const quote = this.byId.get(id).quote
    let best = -1
    for (let at = text.indexOf(quote); at !== -1; at = text.indexOf(quote, at + 1)) {
      if (best === -1 || Math.abs(at - from) < Math.abs(best - from)) best = at
    }
    return best === -1 ? { from, detached: true } : { from: best, to: best + quote.length }
  }

  decorations() {
    const ranges = []
    for (const [id, place] of this.places) {
      if (place.detached) continue
      const active = id === this.active ? " active" : ""
      ranges.push(Decoration.mark({ class: `cm-anchored${active}`, attributes: { "data-comment": id } }).range(place.from, place.to))
    }
    return Decoration.set(ranges, true)
  }

  render() {
    this.view.dispatch({ effects: setPassages.of(this.decorations()) })
    const text = this.view.state.doc
    for (const [id, place] of this.places) {
      const item = this.list?.querySelector(`.comment[data-comment="${CSS.escape(id)}"]`)
      if (!item) continue
      const comment = this.byId.get(id)
      item.dataset.anchor = place.detached ? "detached" : "attached"
      const now = item.querySelector(".passage-now")
      const was = item.querySelector(".passage-was")
      const current = place.detached ? comment.quote : text.sliceString(place.from, place.to)
      if (now && now.textContent !== current) now.textContent = current
      if (was) was.hidden = place.detached || current === comment.quote
      const note = item.querySelector(".detached-note")
      if (note) note.hidden = !place.detached
      const button = item.querySelector("button[data-passage]")
      if (button) button.hidden = !!place.detached
    }
    this.align()
  }

  // On a wide screen each comment moves down to the height of its passage (in text order, never
  // overlapping the one above); stacked below the text, they simply follow each other.
  align() {
    if (!this.view || !this.list) return
    const items = [...this.list.querySelectorAll(":scope > .comment[data-comment]")]
    const at = item => {
      const place = this.places.get(item.dataset.comment)
      return place ? place.from : Infinity
    }
    const ordered = [...items].sort((a, b) => at(a) - at(b))
    if (ordered.some((item, index) => item !== items[index])) this.list.append(...ordered)
    for (const item of ordered) item.style.marginTop = ""
    if (!this.wide.matches) return
    for (const item of ordered) {
      const place = this.places.get(item.dataset.comment)
      if (!place) continue
      // Reading each top after moving the ones above keeps the comments in order, never overlapping.
      const margin = this.top(place.from) - item.getBoundingClientRect().top
      if (margin > 0) item.style.marginTop = `${Math.round(margin)}px`
    }
  }

  // The viewport's y of a position in the editor (estimated for lines CodeMirror has not drawn).
  top(position) {
    const coords = this.view.coordsAtPos(position)
    if (coords) return coords.top
    return this.view.documentTop + this.view.lineBlockAt(position).top
  }

  activate(id) {
    if (this.active === id) return
    this.active = id
    for (const item of this.list?.querySelectorAll(".comment[data-comment]") ?? []) {
      item.classList.toggle("active", item.dataset.comment === id)
    }
    if (this.view) this.view.dispatch({ effects: setPassages.of(this.decorations()) })
  }

  // Where a comment's passage is highlighted now (the highlights follow every transaction at once;
  // `places` only as of the last resolution).
  highlighted(id) {
    let found = null
    this.view.state.field(passages).between(0, this.view.state.doc.length, (from, to, value) => {
      if (value.spec.attributes?.["data-comment"] !== id) return undefined
      found = { from, to }
      return false
    })
    return found
  }

  // Select a comment's passage in the editor and bring it into view.
  show(id) {
    const place = this.view ? this.highlighted(id) : null
    if (!place) return false
    this.activate(id)
    this.view.dispatch({ selection: { anchor: place.from, head: place.to }, scrollIntoView: true })
    this.view.focus()
    return true
  }

  // For pages and tests: each comment's passage as the editor shows it now.
  state() {
    const text = this.view ? this.view.state.doc : null
    return Object.fromEntries(
      [...this.places].map(([id, place]) => [id, place.detached ? { detached: true } : { text: text.sliceString(place.from, place.to), from: place.from, to: place.to }]),
    )
  }
}
