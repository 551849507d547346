// The norm page's change count ("12 changes"), kept current as changes arrive from others or are made here,
// in the page's language: the page gives the words for each plural category (data-forms, `{n}` for the number).
import * as A from "@automerge/automerge/slim"

// `forms` (one text per CLDR plural category, `{n}` for the number) for `count`, in the page's language.
export function pluralText(forms, count) {
  const lang = document.documentElement.lang || "en"
  const form = forms[new Intl.PluralRules(lang).select(count)] ?? forms.other ?? "{n}"
  return form.replace("{n}", new Intl.NumberFormat(lang).format(count))
}

export function countText(element, count) {
  return pluralText(JSON.parse(element.dataset.forms || "{}"), count)
}

export function followChangeCount(handle, element) {
  if (!element) return
  let queued = false
  const show = () => {
    queued = false
    element.textContent = countText(element, A.getAllChanges(handle.doc()).length)
  }
  // Counted once per animation frame at most: a burst of changes does not count the history each time.
  handle.on("change", () => {
    if (!queued) {
      queued = true
      requestAnimationFrame(show)
    }
  })
}
