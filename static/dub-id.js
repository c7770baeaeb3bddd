/* The landing-page script, as Dub's @dub/analytics script does it:
   - ?dub_id=<clickId> (a short link with trackConversion sent the visitor here) becomes a
     first-party `dub_id` cookie;
   - ?via=<key> (a link shared as https://example.com/?via=<key>, no short link involved) asks
     this server to record a click on that link (POST <api host>/track/click, with the
     publishable key when one is given) and keeps the answer's clickId as the `dub_id` cookie.
   The cookie: Path=/, SameSite=Lax, 90 days, Domain=.<host without www> (none on localhost or an
   IP address), Secure on https.

   <script src="https://go.example.com/_/script.js"
           data-domain="go.example.com"                 (the short domain of the ?via= keys; Dub's
                                                         data-short-domain and data-domains='{"refer": ...}'
                                                         are read too)
           data-publishable-key="dub_pk_..."            (optional: shortener keys create --publishable)
           data-api-host="https://go.example.com/api"   (default: this script's origin + /api)
           data-query-param="via"                       (default via)
           data-attribution-model="first-click"         (keep an existing cookie; default last-click)
           data-expires-in-days="90"></script> */
(function () {
  "use strict";
  var script = document.currentScript;
  function attr(name, fallback) {
    var value = script && script.getAttribute(name);
    return value || fallback;
  }
  var model = attr("data-attribution-model", "last-click");
  var days = parseInt(attr("data-expires-in-days", "90"), 10);
  var params = new URLSearchParams(window.location.search);
  var hasCookie = /(?:^|;\s*)dub_id=/.test(document.cookie);

  function setCookie(id) {
    if (!id || !/^[0-9A-Za-z]{1,64}$/.test(id)) return;
    if (model === "first-click" && hasCookie) return;
    var host = window.location.hostname.replace(/^www\./, "");
    var isIp = /^[0-9.]+$/.test(host) || host.indexOf(":") >= 0;
    var parts = [
      "dub_id=" + id,
      "Path=/",
      "SameSite=Lax",
      "Expires=" + new Date(Date.now() + (days > 0 ? days : 90) * 864e5).toUTCString()
    ];
    if (host !== "localhost" && !isIp && host.indexOf(".") > 0) parts.push("Domain=." + host);
    if (window.location.protocol === "https:") parts.push("Secure");
    document.cookie = parts.join("; ");
  }

  var clickId = params.get("dub_id");
  if (clickId) {
    setCookie(clickId);
    return;
  }
  var key = params.get(attr("data-query-param", "via"));
  var domain = attr("data-domain", "") || attr("data-short-domain", "");
  try {
    domain = JSON.parse(attr("data-domains", "{}")).refer || domain;
  } catch (e) { /* not JSON: keep the other attributes' domain */ }
  var publishableKey = attr("data-publishable-key", "");
  if (!key || !domain || !window.fetch) return;
  if (model === "first-click" && hasCookie) return;
  var origin = script && script.src ? new URL(script.src).origin : window.location.origin;
  var apiHost = attr("data-api-host", origin + "/api").replace(/\/$/, "");
  var headers = { "Content-Type": "application/json" };
  if (publishableKey) headers.Authorization = "Bearer " + publishableKey;
  fetch(apiHost + "/track/click", {
    method: "POST",
    headers: headers,
    body: JSON.stringify({ domain: domain, key: key, url: window.location.href,
                           referrer: document.referrer || null })
  }).then(function (res) {
    return res.ok ? res.json() : null;
  }).then(function (data) {
    if (data && data.clickId) setCookie(data.clickId);
  }).catch(function () { /* tracking never breaks the page */ });
})();
