// The unmodified official Dub TypeScript SDK (npm `dub`, pinned in package-lock.json) against a
// real `shortener serve`, the way a user of Dub's docs points it at a server:
//   new Dub({ token, serverURL: "http://127.0.0.1:PORT/api" })
// tests/test_ts_sdk.py starts the server and runs `node sdk.mjs` with SHORTENER_URL and
// SHORTENER_TOKEN set. Every call is a named step; a failing step prints which call failed and
// why (the SDK's zod report for an answer that does not fit its schema) and the run goes on, so
// one run lists every incompatibility. The exit status is the number of failed steps (0: all ok).
//
// The SDK validates each answer with zod and strips unknown fields. Where an SDK answer type is a
// union (analytics, events), any member may match, so the answer is also checked against the
// member its groupBy / event asks for.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";

import { Dub } from "dub";
import { HTTPClient } from "dub/lib/http.js";
import * as components from "dub/models/components";
import * as errors from "dub/models/errors";
import * as operations from "dub/models/operations";

const BASE = process.env.SHORTENER_URL;
const TOKEN = process.env.SHORTENER_TOKEN;
if (!BASE || !TOKEN) {
  console.error("usage: SHORTENER_URL=http://127.0.0.1:PORT SHORTENER_TOKEN=dub_... node sdk.mjs");
  process.exit(64);
}
const DOMAIN = new URL(BASE).host;
const DESKTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

// Copies of the last answer: the bytes of a /qr answer (the SDK hands a PNG back as text, where
// undecodable bytes become U+FFFD), and the raw JSON of the others (the SDK's results are already
// transformed: utm_source becomes utmSource and so on).
let lastQrBytes = null;
let lastJson = null;
const httpClient = new HTTPClient();
httpClient.addHook("response", async (res, req) => {
  if (new URL(req.url).pathname.endsWith("/qr")) {
    lastQrBytes = Buffer.from(await res.clone().arrayBuffer());
  } else if ((res.headers.get("content-type") || "").includes("json")) {
    lastJson = JSON.parse(await res.clone().text());
  }
});

const dub = new Dub({ token: TOKEN, serverURL: `${BASE}/api`, httpClient });

let failed = 0;

function why(err) {
  if (err instanceof errors.ResponseValidationError || err instanceof errors.SDKValidationError) {
    const raw = JSON.stringify(err.rawValue);
    return `${err.name}: the answer does not fit the SDK's schema\n${err.pretty()}\n` +
      `raw value: ${raw && raw.length > 2000 ? raw.slice(0, 2000) + "..." : raw}`;
  }
  if (err instanceof errors.DubError) {
    return `${err.name} (HTTP ${err.statusCode}): ${err.message}\nbody: ${err.body}`;
  }
  if (err && err.name === "AssertionError") {
    return `assertion failed: ${err.message}`;
  }
  return (err && err.stack) || String(err);
}

async function step(name, fn) {
  try {
    const value = await fn();
    console.log(`ok   ${name}`);
    return value;
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${why(err).split("\n").join("\n     ")}`);
    return undefined;
  }
}

async function rejects(promise, ErrorClass, status) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ErrorClass, `expected ${ErrorClass.name}, got ${why(err)}`);
    assert.equal(err.statusCode, status);
    return err;
  }
  assert.fail(`expected ${ErrorClass.name} (HTTP ${status}), the call succeeded`);
}

// A zod schema check of a raw answer, with the failing paths in the message.
function fits(schema, value, what) {
  const result = schema.safeParse(value);
  assert.ok(result.success, `${what} does not fit: ${result.success ? "" : JSON.stringify(result.error.issues)}`);
  return result.data;
}

let visitor = 0;
async function click(shortLink) {
  // A real redirect by a new visitor in Berlin (the server believes the CDN's country header);
  // the click id is its dub_id cookie.
  visitor += 1;
  const res = await fetch(shortLink, { redirect: "manual", headers: {
    "user-agent": `${DESKTOP} ts-sdk/${visitor}`, "cf-ipcountry": "DE", "referer": "https://news.example/post" } });
  assert.equal(res.status, 302, `redirect of ${shortLink}`);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("dub_id="));
  assert.ok(cookie, "the redirect sets dub_id");
  return cookie.slice("dub_id=".length).split(";")[0];
}

// --- links -----------------------------------------------------------------------------------

const bare = await step("links.create (URL only)", async () => {
  const link = await dub.links.create({ url: "https://example.com/bare" });
  assert.ok(link.id.startsWith("link_"));
  assert.equal(link.key.length, 7);
  assert.equal(link.domain, DOMAIN);
  assert.equal(link.shortLink, `${BASE}/${link.key}`);
  assert.equal(link.url, "https://example.com/bare");
  assert.deepEqual([link.password, link.tags, link.clicks, link.archived, link.folderId], [null, [], 0, false, null]);
  return link;
});

const full = await step("links.create (every option)", async () => {
  const link = await dub.links.create({
    url: "https://example.com/full?x=1",
    key: "full",
    externalId: "ts-1",
    tenantId: "tenant-9",
    trackConversion: true,
    archived: false,
    tagNames: ["ts", "Launch"],
    comments: "made by the TypeScript SDK",
    expiresAt: "2031-05-06T07:08:09.000Z",
    expiredUrl: "https://example.com/expired",
    password: "hunter2",
    proxy: true,
    title: "Title",
    description: "Description",
    image: "https://example.com/i.png",
    video: "https://example.com/v.mp4",
    rewrite: false,
    ios: "https://apps.apple.com/app/id1",
    android: "https://play.google.com/store/apps/details?id=x",
    geo: { DE: "https://example.de" },
    doIndex: true,
    publicStats: false,
    utmSource: "sdk",
    utmMedium: "test",
    utmCampaign: "c",
    utmTerm: "t",
    utmContent: "co",
    ref: "r",
  });
  assert.equal(link.key, "full");
  assert.equal(link.externalId, "ts-1");
  assert.equal(link.tenantId, "tenant-9");
  assert.equal(link.url, "https://example.com/full?x=1&utm_source=sdk&utm_medium=test&utm_campaign=c&utm_term=t&utm_content=co&ref=r");
  assert.deepEqual([link.utmSource, link.utmMedium, link.utmCampaign, link.utmTerm, link.utmContent], ["sdk", "test", "c", "t", "co"]);
  assert.deepEqual(link.tags.map((t) => t.name).sort(), ["Launch", "ts"]);
  assert.equal(link.expiresAt, "2031-05-06T07:08:09.000Z");
  assert.equal(link.password, null);
  assert.deepEqual([link.trackConversion, link.proxy, link.doIndex], [true, true, true]);
  assert.deepEqual(link.geo, { DE: "https://example.de" });
  return link;
});

await step("links.get (linkId, externalId, domain+key)", async () => {
  assert.equal((await dub.links.get({ linkId: full.id })).id, full.id);
  assert.equal((await dub.links.get({ externalId: "ext_ts-1" })).id, full.id);
  assert.equal((await dub.links.get({ domain: DOMAIN, key: "FULL" })).id, full.id);
  await rejects(dub.links.get({ linkId: "link_nope" }), errors.NotFound, 404);
});

await step("links.update", async () => {
  const updated = await dub.links.update(full.id, { title: "New title", password: null, tagNames: ["ts"] });
  assert.equal(updated.title, "New title");
  assert.deepEqual(updated.tags.map((t) => t.name), ["ts"]);
  assert.equal((await dub.links.update("ext_ts-1", { archived: true })).archived, true);
  await rejects(dub.links.update(full.id, { url: "javascript:alert(1)" }), errors.UnprocessableEntity, 422);
});

await step("links.list (options, pages)", async () => {
  const ids = async (request) => (await dub.links.list(request)).result.map((l) => l.id);
  assert.deepEqual(await ids({ showArchived: true }), [full.id, bare.id], "newest first");
  assert.deepEqual(await ids({}), [bare.id], "full is archived");
  assert.deepEqual(await ids({ tagNames: "ts", showArchived: true }), [full.id], "tagNames");
  assert.deepEqual(await ids({ search: "bare" }), [bare.id], "search");
  // (this SDK version sends no sortBy/sortOrder for links.list) the id cursors:
  assert.deepEqual(await ids({ startingAfter: full.id, showArchived: true }), [bare.id], "startingAfter");
  assert.deepEqual(await ids({ endingBefore: bare.id, showArchived: true }), [full.id], "endingBefore");
  assert.deepEqual(await ids({ domain: DOMAIN, tenantId: "tenant-9", showArchived: true }), [full.id], "tenantId");
  // the SDK's page iterator, one link per page
  const seen = [];
  for await (const page of await dub.links.list({ pageSize: 1, showArchived: true })) {
    seen.push(...page.result.map((l) => l.id));
    assert.ok(seen.length <= 3, "the iterator stops after the last page");
  }
  assert.deepEqual(seen, [full.id, bare.id], "pages of one");
});

await step("links.count (options)", async () => {
  assert.equal(await dub.links.count({}), 1);
  assert.equal(await dub.links.count({ showArchived: true }), 2);
  assert.equal(await dub.links.count({ domain: DOMAIN, tagNames: ["launch"], showArchived: true }), 0);
  assert.equal(await dub.links.count({ tagNames: ["ts"], showArchived: true }), 1);
});

await step("links.createMany / updateMany / deleteMany / upsert", async () => {
  const made = await dub.links.createMany([
    { url: "https://example.com/b1", key: "b1" },
    { url: "https://example.com/b2", key: "b2", tagNames: ["bulk"] },
    { url: "https://example.com/b3", key: "b1" },
  ]);
  assert.deepEqual(made.slice(0, 2).map((m) => m.key), ["b1", "b2"]);
  assert.equal(made[2].code, "conflict");
  const ids = [made[0].id, made[1].id];
  const changed = await dub.links.updateMany({ linkIds: ids, data: { utmCampaign: "bulk" } });
  assert.deepEqual(changed.map((l) => l.url).sort(), ["https://example.com/b1?utm_campaign=bulk", "https://example.com/b2?utm_campaign=bulk"]);
  const same = await dub.links.upsert({ url: bare.url, comments: "upserted" });
  assert.equal(same.id, bare.id);
  assert.equal(same.comments, "upserted");
  assert.equal((await dub.links.deleteMany({ linkIds: ids })).deletedCount, 2);
});

await step("links.delete", async () => {
  const gone = await dub.links.create({ url: "https://example.com/gone", key: "gone" });
  assert.equal((await dub.links.delete(gone.id)).id, gone.id);
  await rejects(dub.links.get({ linkId: gone.id }), errors.NotFound, 404);
  await rejects(dub.links.delete(gone.id), errors.NotFound, 404);
});

// --- tags and domains ------------------------------------------------------------------------

await step("tags.create / list / update / delete", async () => {
  const tag = await dub.tags.create({ name: "Spring", color: "green" });
  assert.deepEqual([tag.name, tag.color], ["Spring", "green"]);
  assert.deepEqual((await dub.tags.list({ search: "spr" })).map((t) => t.name), ["Spring"]);
  const renamed = await dub.tags.update(tag.id, { name: "Summer", color: "red" });
  assert.deepEqual([renamed.name, renamed.color], ["Summer", "red"]);
  await rejects(dub.tags.create({ name: "summer" }), errors.Conflict, 409);
  const link = await dub.links.create({ url: "https://example.com/tagged", tagIds: [tag.id] });
  assert.deepEqual(link.tags.map((t) => t.id), [tag.id]);
  assert.equal((await dub.tags.delete(tag.id)).id, tag.id);
  assert.deepEqual((await dub.links.get({ linkId: link.id })).tags, []);
  await dub.links.delete(link.id);
});

await step("domains.create / list / update / delete", async () => {
  const created = await dub.domains.create({ slug: "go.example.com", notFoundUrl: "https://example.com/404",
    expiredUrl: "https://example.com/gone" });
  assert.deepEqual([created.slug, created.notFoundUrl, created.primary], ["go.example.com", "https://example.com/404", false]);
  const listed = await dub.domains.list({});
  assert.deepEqual(listed.result.map((d) => d.slug), [DOMAIN, "go.example.com"]);
  assert.equal(listed.result[0].primary, true);
  const updated = await dub.domains.update("go.example.com", { placeholder: "https://example.com/p" });
  assert.equal(updated.placeholder, "https://example.com/p");
  await rejects(dub.domains.create({ slug: "GO.example.com" }), errors.Conflict, 409);
  const onDomain = await dub.links.create({ url: "https://example.com/x", domain: "go.example.com" });
  assert.equal((await dub.domains.delete("go.example.com")).slug, "go.example.com");
  await rejects(dub.links.get({ linkId: onDomain.id }), errors.NotFound, 404);
  await rejects(dub.domains.delete(DOMAIN), errors.Forbidden, 403);
});

// --- QR codes --------------------------------------------------------------------------------

await step("qrCodes.get (PNG bytes)", async () => {
  lastQrBytes = null;
  const text = await dub.qrCodes.get({ url: bare.shortLink });
  assert.equal(typeof text, "string");
  assert.ok(text.startsWith("\uFFFDPNG\r\n\u001a\n"), "the SDK's text is a PNG decoded as UTF-8");
  const png = lastQrBytes;
  assert.ok(png && png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), "PNG signature");
  assert.equal(png.subarray(12, 16).toString("latin1"), "IHDR");
  const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  assert.equal(width, height);
  assert.ok(width >= 300 && width <= 1200, `size=600 (the SDK's default) gives a ${width}px image`);
  // tests/test_ts_sdk.py decodes the code: it must read as the short link
  if (process.env.SHORTENER_QR_OUT) {
    writeFileSync(`${process.env.SHORTENER_QR_OUT}.png`, png);
    writeFileSync(`${process.env.SHORTENER_QR_OUT}.txt`, bare.shortLink);
  }
  // the SDK's explicit size, margin, colours and level
  await dub.qrCodes.get({ url: bare.shortLink, size: 200, margin: 0, fgColor: "#112233", bgColor: "#FFFFFF", level: "H", hideLogo: true });
  assert.ok(lastQrBytes.readUInt32BE(16) <= 400, "size=200 gives a smaller image");
});

// --- folders ---------------------------------------------------------------------------------

await step("folders.create / list / update / delete, links in folders", async () => {
  const folder = await dub.folders.create({ name: "Launch", description: "for the launch" });
  assert.ok(folder.id.startsWith("fold_"));
  assert.deepEqual([folder.name, folder.description, folder.type, folder.accessLevel], ["Launch", "for the launch", "default", "write"]);
  const other = await dub.folders.create({ name: "Archive", accessLevel: "read" });
  assert.equal(other.accessLevel, "read");
  await rejects(dub.folders.create({ name: "archive" }), errors.Conflict, 409);

  assert.deepEqual((await dub.folders.list({})).map((f) => f.name), ["Archive", "Launch"]);
  assert.deepEqual((await dub.folders.list({ search: "laun" })).map((f) => f.name), ["Launch"]);
  assert.deepEqual((await dub.folders.list({ page: 2, pageSize: 1 })).map((f) => f.name), ["Launch"]);

  const renamed = await dub.folders.update(folder.id, { name: "Launch 2026", description: null });
  assert.deepEqual([renamed.id, renamed.name, renamed.description], [folder.id, "Launch 2026", null]);
  await rejects(dub.folders.update("fold_nope", { name: "x" }), errors.NotFound, 404);

  const inside = await dub.links.create({ url: "https://example.com/f", folderId: folder.id });
  assert.equal(inside.folderId, folder.id);
  await rejects(dub.links.create({ url: "https://example.com/g", folderId: "fold_nope" }), errors.UnprocessableEntity, 422);
  assert.deepEqual((await dub.links.list({ folderId: folder.id })).result.map((l) => l.id), [inside.id]);
  assert.equal(await dub.links.count({ folderId: folder.id }), 1);

  assert.equal((await dub.folders.delete(folder.id)).id, folder.id);
  assert.equal((await dub.links.get({ linkId: inside.id })).folderId, null);
  await rejects(dub.folders.delete(folder.id), errors.NotFound, 404);
  assert.equal((await dub.folders.delete(other.id)).id, other.id);
  assert.deepEqual(await dub.folders.list({}), []);
});

// --- domains ---------------------------------------------------------------------------------

await step("domains.checkStatus", async () => {
  const status = await dub.domains.checkStatus({ domains: [DOMAIN, "unused.example"] });
  assert.deepEqual(status.map((s) => [s.domain, s.available, s.premium, s.price]),
    [[DOMAIN, false, null, null], ["unused.example", true, null, null]]);
  const single = await dub.domains.checkStatus({ domains: "unused.example" });
  assert.equal(single[0].available, true);
});

// --- A/B destinations ------------------------------------------------------------------------

await step("links with testVariants (create, get, update, clear)", async () => {
  const variants = [{ url: "https://example.com/one", percentage: 60 }, { url: "https://example.com/two", percentage: 40 }];
  const link = await dub.links.create({
    url: "https://example.com/one", key: "ab", testVariants: variants,
    testStartedAt: "2026-01-01T00:00:00.000Z", testCompletedAt: "2031-01-01T00:00:00.000Z",
  });
  assert.deepEqual(link.testVariants, variants);
  assert.equal(link.testStartedAt, "2026-01-01T00:00:00.000Z");
  assert.equal(link.testCompletedAt, "2031-01-01T00:00:00.000Z");
  assert.deepEqual((await dub.links.get({ linkId: link.id })).testVariants.map((v) => v.url), variants.map((v) => v.url));
  await rejects(dub.links.update(link.id, { testVariants: [{ url: "https://example.com/one", percentage: 60 },
    { url: "https://example.com/two", percentage: 30 }] }), errors.UnprocessableEntity, 422);
  const changed = await dub.links.update(link.id, { testVariants: [{ url: "https://example.com/one", percentage: 50 },
    { url: "https://example.com/three", percentage: 50 }] });
  assert.deepEqual(changed.testVariants.map((v) => v.url), ["https://example.com/one", "https://example.com/three"]);
  // HEAD: answered like GET, no click recorded (the analytics below count only the lead clicks)
  const res = await fetch(link.shortLink, { method: "HEAD", redirect: "manual", headers: { "user-agent": DESKTOP } });
  assert.equal(res.status, 302);
  assert.ok(["https://example.com/one", "https://example.com/three"].includes(res.headers.get("location")));
  const cleared = await dub.links.update(link.id, { testVariants: null });
  assert.deepEqual([cleared.testVariants, cleared.testCompletedAt], [null, null]);
});

// --- conversions -----------------------------------------------------------------------------

const shop = await step("track.lead / track.sale", async () => {
  const link = await dub.links.create({ url: "https://example.com/signup", key: "signup", trackConversion: true });
  const cid = await click(link.shortLink);
  const lead = await dub.track.lead({ clickId: cid, eventName: "Sign up", customerExternalId: "u-1",
    customerName: "Ada", customerEmail: "ada@example.com", mode: "wait", metadata: { plan: "pro" } });
  assert.equal(lead.click.id, cid);
  assert.equal(lead.link.id, link.id);
  assert.equal(lead.customer.externalId, "u-1");
  assert.equal(lead.customer.name, "Ada");
  // async (the SDK's default mode) and eventQuantity
  const second = await dub.track.lead({ clickId: await click(link.shortLink), eventName: "Seats", customerExternalId: "u-2",
    eventQuantity: 2 });
  assert.equal(second.link.id, link.id);
  await rejects(dub.track.lead({ clickId: "AAAAAAAAAAAAAAAA", eventName: "Sign up", customerExternalId: "u-3", mode: "wait" }),
    errors.NotFound, 404);

  const sale = await dub.track.sale({ customerExternalId: "u-1", amount: 4900, currency: "eur", invoiceId: "inv-1",
    paymentProcessor: "stripe", eventName: "Purchase", metadata: { sku: "a" } });
  assert.equal(sale.eventName, "Purchase");
  assert.equal(sale.customer.externalId, "u-1");
  assert.deepEqual([sale.sale.amount, sale.sale.currency, sale.sale.invoiceId, sale.sale.paymentProcessor], [4900, "eur", "inv-1", "stripe"]);
  // a repeat invoice is answered and changes nothing
  await dub.track.sale({ customerExternalId: "u-1", amount: 4900, invoiceId: "inv-1", paymentProcessor: "stripe" });
  const counters = await dub.links.get({ linkId: link.id });
  assert.deepEqual([counters.leads, counters.sales, counters.saleAmount], [3, 1, 4900]);
  return link;
});

// --- analytics and events --------------------------------------------------------------------

const GROUPS = {
  count: components.AnalyticsCount$inboundSchema,
  timeseries: components.AnalyticsTimeseries$inboundSchema,
  continents: components.AnalyticsContinents$inboundSchema,
  regions: components.AnalyticsRegions$inboundSchema,
  countries: components.AnalyticsCountries$inboundSchema,
  cities: components.AnalyticsCities$inboundSchema,
  devices: components.AnalyticsDevices$inboundSchema,
  browsers: components.AnalyticsBrowsers$inboundSchema,
  os: components.AnalyticsOS$inboundSchema,
  trigger: components.AnalyticsTriggers$inboundSchema,
  triggers: components.AnalyticsTriggers$inboundSchema,
  referers: components.AnalyticsReferers$inboundSchema,
  referer_urls: components.AnalyticsRefererUrls$inboundSchema,
  top_links: components.AnalyticsTopLinks$inboundSchema,
  top_urls: components.AnalyticsTopUrls$inboundSchema,
};

if (shop) {
  // clicks are written in batches: wait until the two clicks above are counted
  await step("analytics.retrieve (count, until the clicks are written)", async () => {
    let count;
    for (let i = 0; i < 50; i += 1) {
      count = await dub.analytics.retrieve({ event: "clicks", linkId: shop.id });
      if (count.clicks >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    fits(GROUPS.count, lastJson, "count");
    assert.equal(count.clicks, 2);
  });

  const EXPECTED = { clicks: 2, leads: 3, sales: 1, saleAmount: 4900 };
  for (const [groupBy, schema] of Object.entries(GROUPS)) {
    for (const event of groupBy === "count" ? ["clicks", "leads", "sales", "composite"] : ["composite"]) {
      await step(`analytics.retrieve (groupBy=${groupBy}, event=${event})`, async () => {
        const answer = await dub.analytics.retrieve({ event, groupBy, interval: "24h", timezone: "Europe/Berlin" });
        const raw = lastJson;
        if (groupBy === "count") {
          fits(schema, raw, groupBy);
          const fields = event === "composite" ? ["clicks", "leads", "sales", "saleAmount"]
            : event === "sales" ? ["sales", "saleAmount"] : [event];
          for (const f of fields) assert.equal(answer[f], EXPECTED[f], f);
          return;
        }
        assert.ok(Array.isArray(raw), `groupBy=${groupBy} answers an array`);
        raw.forEach((row, i) => fits(schema, row, `row ${i}`));
        if (groupBy === "regions" || groupBy === "cities") {
          // a CDN's country header names no region or city, and unknown ones are no group (Dub's
          // region and city codes have no "Unknown")
          assert.deepEqual(raw, []);
          return;
        }
        assert.ok(raw.length > 0, `groupBy=${groupBy} has a row`);
        const sum = (f) => raw.reduce((n, r) => n + (r[f] || 0), 0);
        assert.deepEqual([sum("clicks"), sum("leads"), sum("sales"), sum("saleAmount")], [2, 3, 1, 4900], "totals");
        if (groupBy === "top_links") {
          assert.equal(answer[0].id, shop.id);
          assert.equal(answer[0].shortLink, shop.shortLink);
        }
        if (groupBy === "countries") assert.equal(answer[0].country, "DE");
        if (groupBy === "continents") assert.equal(answer[0].continent, "EU");
      });
    }
  }

  // groupBy values whose rows have no schema of their own in the SDK: its union must accept them
  for (const groupBy of ["top_domains", "top_folders", "top_link_tags", "top_base_urls", "utm_sources",
    "utm_mediums", "utm_campaigns", "utm_terms", "utm_contents"]) {
    await step(`analytics.retrieve (groupBy=${groupBy}, event=composite)`, async () => {
      const answer = await dub.analytics.retrieve({ event: "composite", groupBy, interval: "24h" });
      assert.ok(Array.isArray(answer), `groupBy=${groupBy} answers an array`);
      if (groupBy === "top_domains" || groupBy === "top_base_urls") assert.ok(answer.length > 0, `groupBy=${groupBy} has a row`);
    });
  }

  await step("analytics.retrieve (filters: linkId, domain+key, start/end, country)", async () => {
    assert.equal((await dub.analytics.retrieve({ linkId: shop.id })).clicks, 2, "linkId");
    assert.equal((await dub.analytics.retrieve({ domain: DOMAIN, key: "signup" })).clicks, 2, "domain+key");
    const start = new Date(Date.now() - 3600e3).toISOString();
    const end = new Date(Date.now() + 60e3).toISOString();
    assert.equal((await dub.analytics.retrieve({ start, end })).clicks, 2, "start/end");
    assert.equal((await dub.analytics.retrieve({ country: "DE" })).clicks, 2, "country=DE");
    assert.equal((await dub.analytics.retrieve({ country: "FR" })).clicks, 0, "country=FR");
  });

  await step("events.list (clicks, leads, sales)", async () => {
    const clicks = await dub.events.list({ event: "clicks", linkId: shop.id });
    assert.equal(clicks.length, 2);
    lastJson.forEach((e, i) => fits(operations.ClickEvent$inboundSchema, e, `click event ${i}`));
    assert.deepEqual(clicks.map((e) => e.event), ["click", "click"]);
    assert.equal(clicks[0].link.id, shop.id);
    assert.equal(clicks[0].click.country, "DE");
    const leads = await dub.events.list({ event: "leads", interval: "all", sortOrder: "asc" });
    assert.equal(leads.length, 3);
    lastJson.forEach((e, i) => fits(operations.LeadEvent$inboundSchema, e, `lead event ${i}`));
    assert.equal(leads[0].customer.externalId, "u-1");
    const sales = await dub.events.list({ event: "sales", page: 1, limit: 10 });
    assert.equal(sales.length, 1);
    fits(operations.SaleEvent$inboundSchema, lastJson[0], "sale event");
    assert.equal(sales[0].sale.amount, 4900);
  });
}

// --- customers (last: deleting one removes its events) -------------------------------------------------------------------------------

if (shop) {
  await step("customers.list / get / update / delete", async () => {
    const page = await dub.customers.list({ linkId: shop.id });
    assert.deepEqual(page.result.map((c) => c.externalId).sort(), ["u-1", "u-2"]);
    const ada = await dub.customers.get({ id: "ext_u-1", includeExpandedFields: true });
    assert.deepEqual([ada.externalId, ada.name, ada.email], ["u-1", "Ada", "ada@example.com"]);
    assert.equal(ada.link.id, shop.id);
    assert.deepEqual((await dub.customers.list({ email: "ada@example.com" })).result.map((c) => c.id), [ada.id]);
    const renamed = await dub.customers.update({ id: ada.id, requestBody: { name: "Ada L." } });
    assert.equal(renamed.name, "Ada L.");
    await rejects(dub.customers.get({ id: "cus_nope" }), errors.NotFound, 404);
    const second = await dub.customers.get({ id: "ext_u-2" });
    assert.equal((await dub.customers.delete(second.id)).id, second.id);
    await rejects(dub.customers.get({ id: "ext_u-2" }), errors.NotFound, 404);
  });
}

console.log(failed ? `${failed} step(s) failed` : "all steps passed");
process.exit(failed ? 1 : 0);
