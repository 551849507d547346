// Keystrokes the editor holds before they become a change, kept in the page's IndexedDB from the first
// one, so that a page that dies before its next change (a crash, a closed browser) loses nothing.
//
// One record per document: the heads the keystrokes were typed on, the actor that will make their change,
// and the keystrokes as a CodeMirror ChangeSet. A record may outlive its change (the page can die between
// making the change and forgetting the record); on restore, a change of that actor on those heads means
// the keystrokes are in the document already. IndexedDB runs writes to one store in the order they were
// made, and the change is saved in the same task as it is made, so a record is never stored before the
// heads it names.
import * as A from "@automerge/automerge/slim"
import { ChangeSet } from "@codemirror/state"
import { encodeHeads } from "@automerge/automerge-repo/slim"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

// Applies CodeMirror changes to the Automerge text at `path`: the one translation of keystrokes to splices.
export function spliceInto(doc, path, changes) {
  changes.iterChanges((fromA, toA, fromB, _toB, inserted) => {
    A.splice(doc, path.slice(), fromB, toA - fromA, inserted.toString())
  })
}

export class PendingEdits {
  constructor({ storage, documentId }) {
    this.storage = storage
    this.key = ["cogov-pending", documentId]
  }

  // Stores what is pending now (replacing what was); resolves once IndexedDB has it.
  keep({ actor, base, changes }) {
    const record = JSON.stringify({ actor, base, changes: changes.toJSON() })
    return this.storage.save(this.key, encoder.encode(record))
  }

  forget() {
    return this.storage.remove(this.key)
  }

  async load() {
    try {
      const bytes = await this.storage.load(this.key)
      return bytes ? JSON.parse(decoder.decode(bytes)) : null
    } catch (error) {
      console.warn("cogov editor: unreadable pending keystrokes", error)
      return null
    }
  }

  // Makes the change a previous page could not, now or once the document has what the keystrokes were typed
  // on (from the server); `restored` is called if the document gained it.
  async restore(handle, path, restored) {
    const record = await this.load()
    if (!record) return
    const attempt = () => {
      const doc = handle.doc()
      if (!A.hasHeads(doc, record.base)) return false
      handle.off("change", attempt)
      const base = new Set(record.base)
      const made = A.getChangesMetaSince(doc, record.base).some(
        change => change.actor === record.actor && change.deps.length === base.size && change.deps.every(dep => base.has(dep)),
      )
      if (!made) {
        handle.changeAt(encodeHeads(record.base), doc => spliceInto(doc, path, ChangeSet.fromJSON(record.changes)))
        restored()
      }
      return true
    }
    if (!attempt()) handle.on("change", attempt)
  }
}
