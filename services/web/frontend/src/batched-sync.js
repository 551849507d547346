// Binds a CodeMirror view to a text field of an automerge-repo document, like
// @automerge/automerge-codemirror's plugin (whose patch applier and reconcile annotation we use),
// except that keystrokes are batched during a burst: the first keystroke after a pause becomes a change
// at once (so a co-editor sees it without delay), and while typing goes on, what was typed since the last
// change becomes one change `burstMs` after it. A document's history grows by at most 1000 / burstMs
// changes a second per typist, not one per key. `onPending` hears of keystrokes not yet in a change.
import * as A from "@automerge/automerge/slim"
import { ViewPlugin } from "@codemirror/view"
import { ChangeSet, EditorState, Transaction } from "@codemirror/state"
import { isReconcileTx, reconcileAnnotationType } from "@automerge/automerge-codemirror/dist/plugin.js"
import { applyAmPatchesToCm } from "@automerge/automerge-codemirror/dist/amToCodemirror.js"
import { decodeHeads, encodeHeads } from "@automerge/automerge-repo/slim"
import { spliceInto } from "./pending-edits.js"

// Remote edits must not land on the local undo stack.
export const remoteEditsOutsideHistory = EditorState.transactionExtender.of(tr =>
  isReconcileTx(tr) ? { annotations: Transaction.addToHistory.of(false) } : null,
)

export function batchedAutomergeSync({ handle, path, burstMs = 210, onLocalChange = () => {}, onPending = () => {} }) {
  if (!handle.isReady()) throw new Error("the document handle must be ready")
  let instance = null
  const plugin = ViewPlugin.fromClass(
    class {
      constructor(view) {
        this.view = view
        // The heads whose text the editor shows, not counting `pending`.
        this.reconciledHeads = A.getHeads(handle.doc())
        this.pending = null
        this.timer = null
        this.flushing = false
        this.lastFlush = -Infinity
        this.onChange = this.onChange.bind(this)
        handle.on("change", this.onChange)
        instance = this
      }

      update(update) {
        let typed = false
        for (const tr of update.transactions) {
          if (isReconcileTx(tr) || tr.changes.empty) continue
          this.pending = this.pending ? this.pending.compose(tr.changes) : tr.changes
          typed = true
        }
        if (!typed) return
        onPending({ base: this.reconciledHeads, changes: this.pending })
        // Not from inside the update: a change may bring in others' edits, which the view must be free to show.
        if (this.timer === null) this.timer = setTimeout(() => this.flush(), Math.max(0, this.lastFlush + burstMs - performance.now()))
      }

      // Turns the collected edits into one change made at the heads the editor started from,
      // then shows whatever else the document gained meanwhile.
      flush({ catchUp = true } = {}) {
        if (this.timer !== null) clearTimeout(this.timer)
        this.timer = null
        const pending = this.pending
        if (!pending) return
        this.pending = null
        this.lastFlush = performance.now()
        this.flushing = true
        let heads
        try {
          // The repo's handle speaks bs58 heads; Automerge itself speaks hex.
          heads = handle.changeAt(encodeHeads(this.reconciledHeads), doc => spliceInto(doc, path, pending))
        } finally {
          this.flushing = false
        }
        onLocalChange()
        if (!heads) return
        // The editor now shows the text at our change alone (it was made on the heads it showed).
        this.reconciledHeads = decodeHeads(heads)
        if (catchUp) this.catchUp()
      }

      // Apply to the editor what the document has that the editor does not show yet.
      catchUp() {
        const current = A.getHeads(handle.doc())
        if (A.equals(current, this.reconciledHeads)) return
        const patches = A.diff(handle.doc(), this.reconciledHeads, current)
        this.reconciledHeads = current
        applyAmPatchesToCm(this.view, path, patches)
      }

      onChange() {
        if (this.flushing) return
        if (!this.pending) {
          this.catchUp()
          return
        }
        // Others' edits show at once, with ours still held: theirs are mapped over ours in the editor, and ours
        // over theirs, to become a change on the heads the editor now shows.
        const current = A.getHeads(handle.doc())
        if (A.equals(current, this.reconciledHeads)) return
        const remote = textChanges(A.diff(handle.doc(), this.reconciledHeads, current), path, this.pending.length)
        if (remote === null) {
          // Not text edits alone (the whole text replaced): make ours a change first, then catch up. A change made
          // from inside the handle's own "change" event is queued by its state machine and happens later.
          if (this.timer !== null) clearTimeout(this.timer)
          this.timer = setTimeout(() => this.flush(), 0)
          return
        }
        this.reconciledHeads = current
        const shown = remote.map(this.pending)
        this.pending = this.pending.map(remote, true)
        onPending({ base: this.reconciledHeads, changes: this.pending })
        this.view.dispatch({ changes: shown, annotations: reconcileAnnotationType.of({}) })
      }

      destroy() {
        this.flush({ catchUp: false })
        handle.off("change", this.onChange)
        instance = null
      }
    },
  )
  return {
    extension: [plugin, remoteEditsOutsideHistory],
    flush: () => instance?.flush(),
    hasPending: () => !!instance?.pending,
    // What the editor shows: the document at `heads`, then the `pending` local edits (a ChangeSet, or null).
    shown: () => (instance ? { heads: instance.reconciledHeads, pending: instance.pending } : null),
  }
}

// Automerge patches of the text at `path` as one CodeMirror ChangeSet on a text of `length`; null if a patch
// does anything else to that text. Patches elsewhere in the document (the title) are left out.
function textChanges(patches, path, length) {
  let changes = ChangeSet.empty(length)
  for (const patch of patches) {
    const inText = patch.path.length === path.length + 1 && path.every((key, i) => patch.path[i] === key)
    const onText = patch.path.length <= path.length && patch.path.every((key, i) => path[i] === key)
    if (!inText) {
      if (onText) return null
      continue
    }
    const at = patch.path[path.length]
    let step
    if (patch.action === "splice") step = ChangeSet.of({ from: at, insert: patch.value }, changes.newLength)
    else if (patch.action === "del") step = ChangeSet.of({ from: at, to: at + (patch.length ?? 1) }, changes.newLength)
    else return null
    changes = changes.compose(step)
  }
  return changes
}
