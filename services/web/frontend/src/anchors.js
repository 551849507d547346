// Comments of a norm's consultation, anchored to passages of the consulted version, and discussion
// threads, each anchored to a passage of the text it was opened on, followed through live edits. Each passage becomes two Automerge cursors made at the version's heads (on
// its first character, moving forward if it is deleted, and on its last, moving back), resolved
// against the live document whenever the editor's text changes: the passage is then highlighted
// where its words are now, its comment sits beside it, and a passage whose characters were all
// deleted leaves its comment detached (unless its words are found elsewhere, as the server finds
// them). Reading cursors changes nothing in the document. Each list (comments, threads) has its own
// instance, with its own highlights.
import * as A from "@automerge/automerge/slim"
import { Decoration, EditorView } from "@codemirror/view"
import { StateEffect, StateField } from "@codemirror/state"

const BODY = ["body"]
const WIDE = "(min-width: 60rem)" // the breakpoint of .norm-layout.with-comments in site.css
// Resolving costs about 0.13 ms per passage on a 60,000-character text (bench/anchors.py); between two
// resolutions the highlights follow the editor's transactions, so while someone types, a few a second do.
const RESOLVE_EVERY_MS = 150

function passageField(setPassages) {
  return StateField.define({
    create: () => Decoration.none,
    update(decorations, tr) {
      // Between two resolutions, marks follow the editor's own edits.
      decorations = decorations.map(tr.changes)
      for (const effect of tr.effects) if (effect.is(setPassages)) decorations = effect.value
      return decorations
    },
    provide: field => EditorView.decorations.from(field),
  })
}

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

// `config`: the heads its passages were chosen at, and each comment's {id, start, end, quote} there (a comment
// with `heads` of its own was chosen at those); `list`, the element listing them, or a function finding it (a
// list the page replaces); `key`, the data attribute naming an item's id (data-comment, data-thread).
export class CommentAnchors {
  constructor({ handle, sync, config, list, key = "comment" }) {
    this.handle = handle
    this.sync = sync
    this.key = key
    this.setPassages = StateEffect.define()
    this.passages = passageField(this.setPassages)
    this.listOf = list
    this.configure(config)
    this.view = null
    this.cursors = null // id → {start, end} once the document holds the version
    this.active = null
    this.timer = null
    this.aligning = null
    this.resolvedAt = -Infinity
    this.wide = matchMedia(WIDE)
    this.onChange = () => this.schedule()
    handle.on("change", this.onChange)
  }

  // Passages to follow from now on (a list the page refreshed); resolved at the next change or at once.
  configure(config) {
    this.heads = config.heads
    this.comments = config.comments.filter(c => Number.isInteger(c.start) && Number.isInteger(c.end) && c.end > c.start)
    this.byId = new Map(this.comments.map(c => [c.id, c]))
    this.cursors = null // id → {start, end} once the document holds the text each passage was chosen in
    this.places = new Map() // id → {from, to} in the editor's text, or {from, detached: true}
  }

  reset(config) {
    this.configure(config)
    if (this.view) this.resolve()
  }

  get list() {
    return typeof this.listOf === "function" ? this.listOf() : this.listOf
  }

  extension() {
    const attribute = `data-${this.key}`
    return [
      this.passages,
      EditorView.updateListener.of(update => {
        if (update.docChanged) {
          this.mapPlaces(update.changes)
          this.schedule()
        } else if (update.geometryChanged || update.viewportChanged) this.scheduleAlign()
      }),
      EditorView.domEventHandlers({
        click: event => {
          const mark = event.target instanceof Element ? event.target.closest(`.cm-anchored[${attribute}]`) : null
          if (mark) this.activate(mark.getAttribute(attribute))
        },
      }),
    ]
  }

  // The list's own item under an event's target (listened for on the document: the page may replace the list).
  itemAt(target) {
    const item = target instanceof Element ? target.closest(`.comment[data-${this.key}]`) : null
    return item && this.list?.contains(item) ? item : null
  }

  attach(view) {
    this.view = view
    document.addEventListener("click", event => {
      const button = event.target instanceof Element ? event.target.closest("button[data-passage]") : null
      if (button && this.itemAt(button)) this.show(button.dataset.passage)
    })
    for (const type of ["mouseover", "focusin"]) {
      document.addEventListener(type, event => {
        const item = this.itemAt(event.target)
        if (item) this.activate(item.getAttribute(`data-${this.key}`))
      })
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

  // Cursors for every passage, made once the document holds the text each was chosen in.
  prepare() {
    if (this.cursors) return true
    const doc = this.handle.doc()
    if (!doc) return false
    const byHeads = new Map()
    for (const comment of this.comments) {
      const heads = comment.heads ?? this.heads
      const key = [...heads].sort().join(",")
      if (!byHeads.has(key)) byHeads.set(key, { heads, comments: [] })
      byHeads.get(key).comments.push(comment)
    }
    for (const { heads } of byHeads.values()) if (!A.hasHeads(doc, heads)) return false
    const cursors = new Map()
    for (const { heads, comments } of byHeads.values()) {
      const version = A.view(doc, heads)
      const text = String(version.body ?? "")
      for (const comment of comments) {
        const from = utf16(text, comment.start)
        const to = utf16(text, comment.end)
        if (from === null || to === null || to <= from || text.slice(from, to) !== comment.quote) continue
        cursors.set(comment.id, {
          start: A.getCursor(version, BODY, from, "after"),
          end: A.getCursor(version, BODY, to - 1, "before"),
        })
      }
    }
    this.cursors = cursors
    return true
  }

  // Where each passage is in the text the editor shows: the document at the heads the editor is
  // reconciled with, then the local edits not yet made into a change.
  // Until the next resolve, each place moves with the text as the highlights do, so what `show` selects and
  // `state` reports is the passage the reader sees.
  mapPlaces(changes) {
    for (const [id, place] of this.places) {
      if (place.detached) continue
      const from = changes.mapPos(place.from, 1)
      const to = changes.mapPos(place.to, -1)
      this.places.set(id, to > from ? { from, to } : { ...place, from, to: from })
    }
  }

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
      ranges.push(Decoration.mark({ class: `cm-anchored${active}`, attributes: { [`data-${this.key}`]: id } }).range(place.from, place.to))
    }
    return Decoration.set(ranges, true)
  }

  render() {
    this.view.dispatch({ effects: this.setPassages.of(this.decorations()) })
    const text = this.view.state.doc
    for (const [id, place] of this.places) {
      const item = this.list?.querySelector(`.comment[data-${this.key}="${CSS.escape(id)}"]`)
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
    const list = this.list
    const items = [...list.querySelectorAll(`:scope > .comment[data-${this.key}]`)]
    const id = item => item.getAttribute(`data-${this.key}`)
    const at = item => {
      const place = this.places.get(id(item))
      return place ? place.from : Infinity
    }
    const ordered = [...items].sort((a, b) => at(a) - at(b))
    if (ordered.some((item, index) => item !== items[index])) list.append(...ordered)
    for (const item of ordered) item.style.marginTop = ""
    if (!this.wide.matches) return
    for (const item of ordered) {
      const place = this.places.get(id(item))
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
    for (const item of this.list?.querySelectorAll(`.comment[data-${this.key}]`) ?? []) {
      item.classList.toggle("active", item.getAttribute(`data-${this.key}`) === id)
    }
    if (this.view) this.view.dispatch({ effects: this.setPassages.of(this.decorations()) })
  }

  // Where a comment's passage is highlighted now (the highlights follow every transaction at once;
  // `places` only as of the last resolution).
  highlighted(id) {
    let found = null
    this.view.state.field(this.passages).between(0, this.view.state.doc.length, (from, to, value) => {
      if (value.spec.attributes?.[`data-${this.key}`] !== id) return undefined
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
