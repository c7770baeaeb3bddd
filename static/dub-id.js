/* Turns ?dub_id=<clickId> on a landing page into a first-party `dub_id` cookie, as Dub's
   analytics script does: Path=/, SameSite=Lax, 90 days, Domain=.<host without www> (none on
   localhost or an IP address), Secure on https.
   <script src="https://go.example.com/_/script.js" data-attribution-model="first-click"></script>
   keeps an existing cookie (first click wins); the default is last click. */
(function () {
  "use strict";
  var script = document.currentScript;
  var model = (script && script.getAttribute("data-attribution-model")) || "last-click";
  var days = parseInt((script && script.getAttribute("data-expires-in-days")) || "90", 10);
  var id = new URLSearchParams(window.location.search).get("dub_id");
  if (!id || !/^[0-9A-Za-z]{1,64}$/.test(id)) return;
  if (model === "first-click" && /(?:^|;\s*)dub_id=/.test(document.cookie)) return;
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
})();
