// The reader's time zone, for times the server writes in words (a refusal's "choose … or later") and for the
// times typed into forms: a cookie for the server, a hidden `zone` field in forms, the zone's name where shown.
(() => {
  "use strict";
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  document.cookie = `cogov_zone=${encodeURIComponent(zone)}; path=/; max-age=31536000; SameSite=Lax`;
  document.querySelectorAll('input[type="hidden"][name="zone"]').forEach((input) => { input.value = zone; });
  document.querySelectorAll("[data-zone-name]").forEach((element) => { element.textContent = zone; });
})();
