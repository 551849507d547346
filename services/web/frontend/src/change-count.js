// The norm page's change count ("12 changes"), kept current as changes arrive from others or are made here.
import * as A from "@automerge/automerge/slim"

export function followChangeCount(handle, element) {
  if (!element) return
  let queued = false
  const show = () => {
    queued = false
    const count = A.getAllChanges(handle.doc()).length
    element.textContent = `${count} ${count === 1 ? "change" : "changes"}`
  }
  // Counted once per animation frame at most: a burst of changes does not count the history each time.
  handle.on("change", () => {
    if (!queued) {
      queued = true
      requestAnimationFrame(show)
    }
  })
}
