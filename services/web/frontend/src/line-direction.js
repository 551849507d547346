// Each line of the editor in its own direction: dir="auto" on every drawn line, so an Arabic or Hebrew
// line reads right to left beside an English one, and CodeMirror (perLineTextDirection) reads each
// line's direction back for cursor motion and selection.
import { Decoration, EditorView, ViewPlugin } from "@codemirror/view"

const auto = Decoration.line({ attributes: { dir: "auto" } })

function decorate(view) {
  const lines = []
  for (const { from, to } of view.visibleRanges) {
    for (let at = from; at <= to; ) {
      const line = view.state.doc.lineAt(at)
      lines.push(auto.range(line.from))
      at = line.to + 1
    }
  }
  return Decoration.set(lines)
}

export const lineDirection = [
  EditorView.perLineTextDirection.of(true),
  ViewPlugin.fromClass(
    class {
      constructor(view) {
        this.decorations = decorate(view)
      }
      update(update) {
        if (update.docChanged || update.viewportChanged) this.decorations = decorate(update.view)
      }
    },
    { decorations: plugin => plugin.decorations },
  ),
]
