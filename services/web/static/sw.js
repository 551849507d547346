// CoGov's service worker: keeps norm pages and their static files usable offline, so a member
// who reloads a norm page without a connection gets the live editor back, with the edits it
// saved on this device, and syncs them when the connection returns. Pages are fetched from the
// network first (always fresh online); static files are content-addressed, so cache first.
const CACHE = "cogov-offline-v1"
const NORM_PAGE = /^\/networks\/[^/]+\/norms\/[^/]+\/?$/

self.addEventListener("install", () => self.skipWaiting())
self.addEventListener("activate", event => event.waitUntil(self.clients.claim()))

self.addEventListener("fetch", event => {
  const request = event.request
  if (request.method !== "GET") return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin) return
  const page = request.mode === "navigate" && NORM_PAGE.test(url.pathname)
  const asset = url.pathname.startsWith("/static/")
  if (!page && !asset) return
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE)
      if (asset) {
        const hit = await cache.match(request)
        if (hit) return hit
        const response = await fetch(request)
        if (response.ok) await cache.put(request, response.clone())
        return response
      }
      try {
        const response = await fetch(request)
        if (response.ok) await cache.put(url.pathname, response.clone())
        return response
      } catch (error) {
        const hit = await cache.match(url.pathname)
        if (hit) return hit
        throw error
      }
    })(),
  )
})
