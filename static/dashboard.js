// The dashboard's only script (CSP: script-src 'self', nothing inline). Every page works
// without it; it adds copy buttons, local times, the UTM and Open Graph previews.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: <button data-copy="text">
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "Copied";
      } catch (e) {
        window.prompt("Copy this:", button.dataset.copy);
      }
      setTimeout(() => { button.textContent = label; }, 1500);
    });
  }

  // Analytics are bucketed in the browser's time zone: the server reads it from this cookie.
  // A page drawn in another zone is reloaded once (sessionStorage keeps that to once).
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && /^[A-Za-z0-9_+\-\/]+$/.test(zone)) {
    document.cookie = "shortener_tz=" + zone + "; path=/_/; max-age=31536000; samesite=lax";
    const shown = document.getElementById("tz-name");
    const explicit = new URLSearchParams(location.search).has("timezone");
    if (shown && shown.dataset.tz !== zone && !explicit && !sessionStorage.getItem("shortener_tz_reloaded")) {
      sessionStorage.setItem("shortener_tz_reloaded", "1");
      location.reload();
      return;
    }
  }

  // Times are rendered in UTC; show them in the browser's time zone.
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const t of document.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.textContent; t.textContent = fmt.format(d); }
  }

  // Dates (expiry, A/B test): datetime-local holds local time. Show stored UTC values locally and
  // tell the server each field's offset from UTC on that date (it may differ across DST).
  for (const input of document.querySelectorAll("input[type=datetime-local]")) {
    const tz = document.getElementById("f-tzOffset-" + input.name);
    const utc = input.dataset.utc;
    if (utc && !input.closest(".invalid")) {
      const d = new Date(utc);
      if (!isNaN(d)) {
        const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
        input.value = local.toISOString().slice(0, 16);
      }
    }
    if (!tz) continue;
    const setOffset = () => {
      const d = input.value ? new Date(input.value) : new Date();
      tz.value = String(isNaN(d) ? new Date().getTimezoneOffset() : d.getTimezoneOffset());
    };
    input.addEventListener("change", setOffset);
    setOffset();
  }

  // UTM builder: show the destination with the parameters set.
  const url = document.getElementById("f-url");
  const preview = document.getElementById("utm-preview");
  const utmNames = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "ref"];
  const updateUtm = () => {
    if (!url || !preview) return;
    let value = url.value.trim();
    try {
      const u = new URL(/^[a-z][a-z0-9+.-]*:/i.test(value) ? value : "https://" + value);
      for (const name of utmNames) {
        const field = document.getElementById("f-" + name);
        if (field && field.value.trim()) u.searchParams.set(name, field.value.trim());
        else if (field) u.searchParams.delete(name);
      }
      value = value ? u.toString() : "";
    } catch (e) { /* not a URL yet: show what was typed */ }
    preview.textContent = value;
  };
  for (const name of ["url", ...utmNames]) {
    const field = document.getElementById("f-" + name);
    if (field) field.addEventListener("input", updateUtm);
  }
  updateUtm();

  // Open Graph card: title, description, image and the destination's host, as typed.
  const card = document.getElementById("og-card");
  if (card) {
    const title = document.getElementById("f-title");
    const description = document.getElementById("f-description");
    const image = document.getElementById("f-image");
    const img = document.getElementById("og-image");
    const updateCard = () => {
      document.getElementById("og-title").textContent = title.value.trim() || "Title";
      document.getElementById("og-description").textContent = description.value.trim() || "Description";
      let host = "";
      try { host = new URL(url.value.trim()).host; } catch (e) { /* no host yet */ }
      document.getElementById("og-host").textContent = host;
      const src = image.value.trim();
      if (/^https?:\/\//i.test(src)) { img.src = src; img.hidden = false; } else { img.removeAttribute("src"); img.hidden = true; }
    };
    for (const field of [title, description, image, url]) field.addEventListener("input", updateCard);
    updateCard();
  }
});
