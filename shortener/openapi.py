"""The OpenAPI 3.1 document describing our API, as plain Python data built once.

Field names, required fields and enums follow Dub's API (the two references in shared/reference and
the official SDK's models), so a client generated from this document also talks to Dub; our own
extensions (`passwordProtected`, `redirectStatus`, `cookieDomain`, the webhook management
endpoints, the QR endpoint's `format`) say so in their descriptions. tests/test_openapi.py keeps it
true: the app's routes and methods are exactly the documented ones, the query parameters each
handler reads are the documented ones, every documented request field is one the server checks,
real responses (and webhook deliveries) validate against the schemas with no undocumented field,
and every field the SDK's models read or send is present.
"""
from __future__ import annotations

import copy
import functools
import json
from typing import Any

from shortener import __version__
from shortener.analytics import GROUP_BYS, INTERVALS
from shortener.errors import ERROR_CODES

Schema = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# Small constructors: the document is large and repetitive, and these keep each schema readable.


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _str(description: str = "", **extra: Any) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def _nstr(description: str = "", **extra: Any) -> Schema:
    """A string or null (OpenAPI 3.1 writes nullability as a JSON Schema type list)."""
    return {"type": ["string", "null"], **({"description": description} if description else {}), **extra}


def _bool(description: str = "", default: bool | None = None) -> Schema:
    schema: Schema = {"type": "boolean"}
    if description:
        schema["description"] = description
    if default is not None:
        schema["default"] = default
    return schema


def _num(description: str = "", **extra: Any) -> Schema:
    return {"type": "number", **({"description": description} if description else {}), **extra}


def _int(description: str = "", **extra: Any) -> Schema:
    return {"type": "integer", **({"description": description} if description else {}), **extra}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _array(items: Schema, description: str = "", **extra: Any) -> Schema:
    return {"type": "array", "items": items, **({"description": description} if description else {}), **extra}


def _object(properties: dict[str, Schema], required: list[str] | tuple[str, ...] = (), description: str = "",
            **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        missing = set(required) - set(properties)
        assert not missing, f"required fields without a property: {missing}"
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    schema.update(extra)
    return schema


def _date(description: str) -> Schema:
    return _str(description + " ISO-8601 UTC with milliseconds and Z.", format="date-time")


def _ndate(description: str) -> Schema:
    return _nstr(description + " ISO-8601 UTC with milliseconds and Z.", format="date-time")


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: Schema, description: str = "", required: bool = False) -> Schema:
    param: Schema = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


def _path(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


def _body(schema: Schema, description: str = "", required: bool = True) -> Schema:
    body: Schema = {"required": required, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


# ---------------------------------------------------------------------------------------------
# Shared values

TAG_COLORS = ["red", "yellow", "green", "blue", "purple", "brown", "gray", "pink"]
REDIRECT_STATUSES = [301, 302, 307, 308]
WEBHOOK_TRIGGERS = ["link.created", "link.updated", "link.deleted", "link.clicked", "lead.created", "sale.created"]
PAYMENT_PROCESSORS = ["stripe", "shopify", "polar", "paddle", "apple", "revenuecat", "lemonsqueezy", "dub", "custom"]
LEAD_MODES = ["async", "wait", "deferred"]
_HEX_COLOR = "^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$"

# The HTTP status of each Dub error code, and the name of the reusable response in components.
_ERROR_RESPONSES = {
    "bad_request": "BadRequest",
    "unauthorized": "Unauthorized",
    "forbidden": "Forbidden",
    "not_found": "NotFound",
    "conflict": "Conflict",
    "unprocessable_entity": "UnprocessableEntity",
    "rate_limit_exceeded": "RateLimitExceeded",
    "internal_server_error": "InternalServerError",
    "service_unavailable": "ServiceUnavailable",
}
_ERROR_TEXT = {
    "bad_request": "The request is malformed: bad JSON, a bad Authorization header, or a missing required value.",
    "unauthorized": "No API key, or an unknown or revoked one.",
    "forbidden": "The key may not do this, or the value is reserved (for example a reserved key).",
    "not_found": "The resource does not exist.",
    "conflict": "The key, externalId or name is already taken.",
    "unprocessable_entity": "A field failed validation; the message is \"<issue>: <field>: <text>\".",
    "rate_limit_exceeded": "Too many requests; retry later.",
    "internal_server_error": "A bug on our side; the server log has the details.",
    "service_unavailable": "The database cannot answer now (locked by another process, disk full, or a query over "
                           "its deadline); nothing was changed. Retry after `Retry-After` seconds.",
}


def _error_schema(code: str) -> Schema:
    return _object(
        {
            "error": _object(
                {
                    "code": _str("A short code naming the error.", enum=[code]),
                    "message": _str("A human-readable explanation."),
                    "doc_url": _str("A link to our error documentation (/_/docs/errors).", format="uri"),
                },
                required=["code", "message", "doc_url"],
            )
        },
        required=["error"],
        description=_ERROR_TEXT[code],
    )


# ---------------------------------------------------------------------------------------------
# Links

_LINK_DESCRIPTIONS = {
    "url": "The destination URL of the short link.",
    "domain": "The domain of the short link. If not provided, the server's default domain is used.",
    "key": "The short link slug. If not provided, a random 7-character slug is generated. Leading and "
           "trailing '/' are stripped; keys starting with '_' (other than the root link '_root') are rejected.",
    "externalId": "The ID of the link in your database. Unique; pass it as ext_<externalId> where a link id is "
                  "expected.",
    "tenantId": "The ID of the tenant that created the link inside your system.",
    "programId": "The ID of the program the short link is associated with (accepted for compatibility).",
    "partnerId": "The ID of the partner the short link is associated with (accepted for compatibility).",
    "trackConversion": "Whether to track conversions for the short link; the destination gets ?dub_id=<clickId>.",
    "archived": "Whether the short link is archived (archived links keep redirecting but are hidden from listings).",
    "publicStats": "Whether the short link's stats are publicly accessible (deprecated in Dub).",
    "tagId": "The unique ID of the tag assigned to the short link (deprecated: use tagIds).",
    "folderId": "The unique ID of an existing folder (422 when there is no such folder).",
    "comments": "The comments for the short link.",
    "expiresAt": "The date and time when the short link will expire.",
    "expiredUrl": "The URL to redirect to when the short link has expired.",
    "password": "The password required to access the destination URL. Stored only as a salted hash, so "
                "responses always return null; see passwordProtected.",
    "proxy": "Whether the short link uses Custom Social Media Cards (an OG page for crawlers).",
    "title": "The title for Custom Social Media Cards.",
    "description": "The description for Custom Social Media Cards.",
    "image": "The image for Custom Social Media Cards.",
    "video": "The custom link preview video (og:video).",
    "rewrite": "Whether the short link uses link cloaking (the destination is shown in a full-page frame).",
    "ios": "The iOS destination URL for device targeting.",
    "android": "The Android destination URL for device targeting.",
    "geo": "Geo targeting: a map of ISO 3166-1 alpha-2 country codes to destination URLs.",
    "doIndex": "Allow search engines to index the short link (otherwise X-Robots-Tag: noindex).",
    "utm_source": "The UTM source; merged into the destination URL and read back from it.",
    "utm_medium": "The UTM medium; merged into the destination URL and read back from it.",
    "utm_campaign": "The UTM campaign; merged into the destination URL and read back from it.",
    "utm_term": "The UTM term; merged into the destination URL and read back from it.",
    "utm_content": "The UTM content; merged into the destination URL and read back from it.",
    "ref": "The referral tag; merged into the destination URL as ?ref=.",
    "webhookIds": "The IDs of the webhooks that receive link.clicked events for this link.",
    "redirectStatus": "Our extension: the redirect status for this link (null means the server default: 302, "
                      "301 for the root link).",
}

_TEST_VARIANT = _object({"url": _str(), "percentage": _num(minimum=10, maximum=90)}, required=["url", "percentage"])
_STRING_OR_LIST = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


def _link_input_properties(*, with_key_fields: bool = True) -> dict[str, Schema]:
    """Fields a client may send when creating or changing a link (Dub's createLinkBodySchema)."""
    d = _LINK_DESCRIPTIONS
    props: dict[str, Schema] = {
        "url": _str(d["url"], maxLength=32000),
        "domain": _str(d["domain"], maxLength=190),
        "key": _str(d["key"], maxLength=190),
        "keyLength": _int("The length of a randomly generated key.", minimum=3, maximum=190, default=7),
        "prefix": _str("The prefix of a randomly generated key (prefix/random); ignored when key is given."),
        "externalId": _nstr(d["externalId"], maxLength=255),
        "tenantId": _nstr(d["tenantId"]),
        "programId": _nstr(d["programId"]),
        "partnerId": _nstr(d["partnerId"]),
        "trackConversion": _bool(d["trackConversion"], False),
        "archived": _bool(d["archived"], False),
        "tagIds": {**_STRING_OR_LIST, "description": "The IDs of existing tags (a comma-separated string or an array)."},
        "tagNames": {**_STRING_OR_LIST, "description": "Tag names (case-insensitive); unknown names create the tag."},
        "folderId": _nstr(d["folderId"]),
        "comments": _nstr(d["comments"]),
        "expiresAt": _nstr(d["expiresAt"] + " ISO-8601."),
        "expiredUrl": _nstr(d["expiredUrl"]),
        "password": _nstr("The password required to access the destination URL; null removes it."),
        "proxy": _bool(d["proxy"], False),
        "title": _nstr(d["title"]),
        "description": _nstr(d["description"]),
        "image": _nstr(d["image"]),
        "video": _nstr(d["video"]),
        "rewrite": _bool(d["rewrite"], False),
        "ios": _nstr(d["ios"]),
        "android": _nstr(d["android"]),
        "geo": _nullable({"type": "object", "additionalProperties": {"type": "string"}, "description": d["geo"]}),
        "doIndex": _bool(d["doIndex"], False),
        "utm_source": _nstr(d["utm_source"], maxLength=255),
        "utm_medium": _nstr(d["utm_medium"], maxLength=255),
        "utm_campaign": _nstr(d["utm_campaign"], maxLength=255),
        "utm_term": _nstr(d["utm_term"], maxLength=255),
        "utm_content": _nstr(d["utm_content"], maxLength=255),
        "ref": _nstr(d["ref"], maxLength=255),
        # Dub's SDK sends these; A/B tests are not supported, so they are accepted and ignored
        "testVariants": _nullable(_array(_TEST_VARIANT, "A/B destinations: 2-4 URLs whose percentages (10-90 "
                                                        "each) add up to 100. Needs testCompletedAt.",
                                         minItems=2, maxItems=4)),
        "testStartedAt": _nstr("When the A/B test started (default: when testVariants were set).",
                               format="date-time"),
        "testCompletedAt": _nstr("When the A/B test ends; the first visit after it makes the variant with the "
                                 "most leads (else clicks, ties to the first) the link's url.", format="date-time"),
        "publicStats": {**_bool(d["publicStats"], False), "deprecated": True},
        "tagId": {**_nstr(d["tagId"]), "deprecated": True},
        "webhookIds": _nullable(_array(_str(), d["webhookIds"])),
        "redirectStatus": _nullable({"type": "integer", "enum": REDIRECT_STATUSES,
                                     "description": d["redirectStatus"]}),
    }
    if not with_key_fields:
        for name in ("domain", "key", "keyLength", "prefix", "externalId"):
            del props[name]
    return props


_LINK_TAG = _object(
    {"id": _str("The unique ID of the tag."), "name": _str("The name of the tag."),
     "color": _str("The color of the tag.", enum=TAG_COLORS)},
    required=["id", "name", "color"],
)

_LINK_FIELDS: dict[str, Schema] = {
    "id": _str("The unique ID of the short link, prefixed with link_."),
    "domain": _str(_LINK_DESCRIPTIONS["domain"]),
    "key": _str("The short link slug."),
    "url": _str(_LINK_DESCRIPTIONS["url"]),
    "shortLink": _str("The full URL of the short link, including the scheme.", format="uri"),
    "qrCode": _str("The URL of the QR code for the short link (our GET /api/qr).", format="uri"),
    "trackConversion": _bool(_LINK_DESCRIPTIONS["trackConversion"], False),
    "externalId": _nstr(_LINK_DESCRIPTIONS["externalId"]),
    "tenantId": _nstr(_LINK_DESCRIPTIONS["tenantId"]),
    "programId": _nstr(_LINK_DESCRIPTIONS["programId"]),
    "partnerId": _nstr(_LINK_DESCRIPTIONS["partnerId"]),
    "archived": _bool(_LINK_DESCRIPTIONS["archived"], False),
    "expiresAt": _ndate(_LINK_DESCRIPTIONS["expiresAt"]),
    "expiredUrl": _nstr(_LINK_DESCRIPTIONS["expiredUrl"]),
    "disabledAt": _ndate("When the link was disabled (a disabled link answers not found)."),
    "password": {"type": "null", "description": _LINK_DESCRIPTIONS["password"]},
    "passwordProtected": _bool("Our extension: whether the link requires a password."),
    "proxy": _bool(_LINK_DESCRIPTIONS["proxy"], False),
    "title": _nstr(_LINK_DESCRIPTIONS["title"]),
    "description": _nstr(_LINK_DESCRIPTIONS["description"]),
    "image": _nstr(_LINK_DESCRIPTIONS["image"]),
    "video": _nstr(_LINK_DESCRIPTIONS["video"]),
    "rewrite": _bool(_LINK_DESCRIPTIONS["rewrite"], False),
    "doIndex": _bool(_LINK_DESCRIPTIONS["doIndex"], False),
    "ios": _nstr(_LINK_DESCRIPTIONS["ios"]),
    "android": _nstr(_LINK_DESCRIPTIONS["android"]),
    "geo": _nullable({"type": "object", "additionalProperties": {"type": "string"},
                      "description": _LINK_DESCRIPTIONS["geo"]}),
    "publicStats": _bool(_LINK_DESCRIPTIONS["publicStats"], False),
    "tagId": _nstr(_LINK_DESCRIPTIONS["tagId"]),
    "tags": _nullable(_array(_ref("LinkTag"), "The tags assigned to the short link.")),
    "folderId": _nstr(_LINK_DESCRIPTIONS["folderId"]),
    "webhookIds": _array(_str(), _LINK_DESCRIPTIONS["webhookIds"]),
    "comments": _nstr(_LINK_DESCRIPTIONS["comments"]),
    "utm_source": _nstr("The UTM source of the short link."),
    "utm_medium": _nstr("The UTM medium of the short link."),
    "utm_campaign": _nstr("The UTM campaign of the short link."),
    "utm_term": _nstr("The UTM term of the short link."),
    "utm_content": _nstr("The UTM content of the short link."),
    "identifier": _nstr("Dub's client-side click-tracking identifier (always null here)."),
    "testVariants": _nullable(_array(_TEST_VARIANT)),
    "testStartedAt": _ndate("When the A/B test started."),
    "testCompletedAt": _ndate("When the A/B test completes."),
    "userId": _nstr("The user ID of the creator of the short link."),
    "workspaceId": _str("The workspace ID of the short link (one workspace per server)."),
    "projectId": _str("The project ID of the short link (deprecated: use workspaceId)."),
    "clicks": _num("The number of clicks on the short link.", default=0),
    "lastClicked": _ndate("When the short link was last clicked."),
    "leads": _num("The number of leads the short link has generated.", default=0),
    "conversions": _num("The number of leads that converted to paying customers.", default=0),
    "sales": _num("The number of sales the short link has generated.", default=0),
    "saleAmount": _num("The total amount of sales the short link has generated, in cents.", default=0),
    "createdAt": _date("When the short link was created."),
    "updatedAt": _date("When the short link was last updated."),
    "linkRetentionCleanupDisabledAt": _ndate("Dub compatibility field (always null here)."),
    "redirectStatus": _nullable({"type": "integer", "enum": REDIRECT_STATUSES,
                                 "description": _LINK_DESCRIPTIONS["redirectStatus"]}),
}

# Every field the SDK's LinkSchema requires, plus the counters and flags that decisions.md says are
# always present. Optional-in-SDK fields we always send are still required here: a client may rely on them.
_LINK_REQUIRED = [
    "id", "domain", "key", "url", "shortLink", "qrCode", "trackConversion", "externalId", "tenantId", "programId",
    "partnerId", "archived", "expiresAt", "expiredUrl", "disabledAt", "password", "passwordProtected", "proxy",
    "title", "description", "image", "video", "rewrite", "doIndex", "ios", "android", "geo", "publicStats",
    "tagId", "tags", "folderId", "webhookIds", "comments", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "userId", "workspaceId", "projectId", "clicks", "lastClicked", "leads", "conversions",
    "sales", "saleAmount", "createdAt", "updatedAt",
]

_LINK_ERROR = _object(
    {
        "link": {"description": "The item of the request that failed, as sent."},
        "error": _str("Why the item failed."),
        "code": _str("The Dub error code.", enum=list(ERROR_CODES) + ["exceeded_limit", "invite_pending",
                                                                       "invite_expired"]),
    },
    required=["link", "error", "code"],
    description="A bulk item that failed; it stands in the response array at the position of its request item.",
)

_LINK_FILTERS = [
    _query("domain", _str(), "Only links on this domain."),
    _query("tagId", _str(), "Only links with this tag (deprecated: use tagIds)."),
    _query("tagIds", _STRING_OR_LIST, "Only links with any of these tag IDs (comma-separated)."),
    _query("tagNames", _STRING_OR_LIST, "Only links with any of these tag names (comma-separated, case-insensitive)."),
    _query("folderId", _str(), "Accepted for compatibility."),
    _query("search", _str(), "Only links whose key or destination URL contains this text."),
    _query("userId", _str(), "Accepted for compatibility."),
    _query("tenantId", _str(), "Only links of this tenant."),
    _query("showArchived", _bool(default=False), "Include archived links."),
    _query("withTags", _bool(default=False), "Only links that have at least one tag."),
]

_LINK_LIST_PARAMS = _LINK_FILTERS + [
    _query("sort", _str(enum=["createdAt", "clicks", "saleAmount", "lastClicked"], default="createdAt"),
           "The field to sort by (deprecated in Dub: use sortBy)."),
    _query("sortBy", _str(enum=["createdAt", "clicks", "saleAmount", "lastClicked"], default="createdAt"),
           "The field to sort by."),
    _query("sortOrder", _str(enum=["asc", "desc"], default="desc"), "The sort order."),
    _query("page", _int(minimum=1, default=1), "The page number (1-based)."),
    _query("pageSize", _int(minimum=1, maximum=100, default=100), "The number of links per page."),
    _query("startingAfter", _str(), "Cursor paging: the links after this link id in the sort order. "
                                    "An id that names no link gives an empty list (200)."),
    _query("endingBefore", _str(), "Cursor paging: the links before this link id in the sort order. "
                                   "An id that names no link gives an empty list (200)."),
]

# ---------------------------------------------------------------------------------------------
# Tags, domains

_TAG_BODY = {
    "name": _str("The name of the tag (unique, case-insensitive).", minLength=1, maxLength=50),
    "color": _str("The color of the tag; a random one when not given on creation.", enum=TAG_COLORS),
    "tag": {**_str("The name of the tag (deprecated: use name)."), "deprecated": True},
}

_DOMAIN_FIELDS: dict[str, Schema] = {
    "id": _str("The unique ID of the domain, prefixed with dom_."),
    "slug": _str("The domain name (host[:port]).", maxLength=190),
    "verified": _bool("Whether the domain is verified (always true: the server serves every configured domain).",
                      False),
    "primary": _bool("Whether this is the server's default domain.", False),
    "archived": _bool("Whether the domain is archived.", False),
    "placeholder": _nstr("Where the domain root (/) redirects (302) when it has no root link, or a root link "
                         "without a destination."),
    "expiredUrl": _nstr("The URL to redirect to when a link under this domain has expired."),
    "notFoundUrl": _nstr("The URL to redirect to when a link under this domain does not exist."),
    "logo": _nstr("The URL of the domain's logo (http or https)."),
    "assetLinks": _nstr("Android assetlinks.json content as a JSON string; stored and returned, not served."),
    "appleAppSiteAssociation": _nstr("apple-app-site-association content as a JSON string; stored and returned, "
                                     "not served."),
    "registeredDomain": {"type": "null", "description": "Dub compatibility field (always null here)."},
    "cookieDomain": _nstr("Our extension: the Domain attribute of the dub_id cookie (e.g. .example.com); must be "
                          "a suffix of the domain."),
    "createdAt": _date("When the domain was created."),
    "updatedAt": _date("When the domain was last updated."),
}
_DOMAIN_REQUIRED = ["id", "slug", "placeholder", "expiredUrl", "notFoundUrl", "logo", "registeredDomain",
                    "createdAt", "updatedAt"]


def _domain_input(*, slug_required: bool) -> Schema:
    names = ["slug", "expiredUrl", "notFoundUrl", "archived", "placeholder", "logo", "assetLinks",
             "appleAppSiteAssociation", "cookieDomain"]
    return _object({n: _DOMAIN_FIELDS[n] for n in names}, required=["slug"] if slug_required else ())


# ---------------------------------------------------------------------------------------------
# Folders

_FOLDER = _object(
    {
        "id": _str("The unique ID of the folder (fold_...)."),
        "name": _str("The name of the folder; unique (case-insensitively)."),
        "description": _nstr("The description of the folder."),
        "type": _str("The folder type (always default here).", enum=["default", "mega"]),
        "accessLevel": {"type": ["string", "null"], "enum": ["write", "read", None],
                        "description": "The access level of the folder within the workspace (stored and "
                                       "returned; there is one workspace here)."},
        "createdAt": _date("When the folder was created."),
        "updatedAt": _date("When the folder was last updated."),
    },
    required=["id", "name", "description", "type", "createdAt", "updatedAt"],
)


def _folder_input(*, create: bool) -> Schema:
    return _object({
        "name": _str("The name of the folder.", minLength=1, maxLength=190),
        "description": _nstr("The description of the folder.", maxLength=500),
        "accessLevel": {"type": ["string", "null"], "enum": ["write", "read", None],
                        "description": "The access level (default write)."},
    }, required=["name"] if create else ())


# ---------------------------------------------------------------------------------------------
# Conversions: track, customers, events

_TRACK_LEAD_BODY = _object(
    {
        "clickId": _str("The click the lead is attributed to (the dub_id cookie). An empty string uses the click "
                        "bound to an existing customer with this customerExternalId (deferred tracking)."),
        "eventName": _str("The name of the lead event, e.g. 'Sign up'.", minLength=1, maxLength=255),
        "customerExternalId": _str("The unique ID of the customer in your system.", minLength=1, maxLength=100),
        "customerName": _nstr("The name of the customer; a random name ('Big Red Caribou') when neither name nor "
                              "email is given.", maxLength=100),
        "customerEmail": _nstr("The email address of the customer.", format="email", maxLength=100),
        "customerAvatar": _nstr("The avatar URL of the customer."),
        "mode": _str("async: side effects (webhooks) are deferred; wait: the same (a 200 always means the event "
                     "is committed); deferred: only binds the customer to the click, recording nothing yet.",
                     enum=LEAD_MODES, default="async"),
        "eventQuantity": _nullable({"type": "integer", "minimum": 1, "maximum": 100,
                                    "description": "Record the lead event N times (leads += N)."}),
        "metadata": _nullable({"type": "object", "description": "Additional data, at most 10,000 characters "
                                                                "as JSON."}),
    },
    required=["clickId", "eventName", "customerExternalId"],
)

_TRACK_LEAD_RESPONSE = _object(
    {
        "click": _object({"id": _str("The unique ID of the click.")}, required=["id"]),
        "link": _nullable(_object(
            {
                "id": _str("The unique ID of the link."),
                "domain": _str("The domain of the short link."),
                "key": _str("The key (slug) of the short link."),
                "shortLink": _str("The full short link URL."),
                "url": _str("The destination URL."),
                "partnerId": _nstr("The partner ID if applicable."),
                "programId": _nstr("The program ID if applicable."),
                "tenantId": _nstr("The tenant ID if applicable."),
                "externalId": _nstr("The external ID if applicable."),
            },
            required=["id", "domain", "key", "shortLink", "url", "partnerId", "programId", "tenantId", "externalId"],
            description="The link the lead is attributed to; null when the request repeated an earlier lead "
                        "(same customer and eventName within 7 days), which changes nothing.",
        )),
        "customer": _object(
            {
                "name": _nstr("The name of the customer."),
                "email": _nstr("The email of the customer."),
                "avatar": _nstr("The avatar URL of the customer."),
                "externalId": _nstr("The external ID of the customer."),
            },
            required=["name", "email", "avatar", "externalId"],
        ),
    },
    required=["click", "link", "customer"],
)

_TRACK_SALE_BODY = _object(
    {
        "customerExternalId": _str("The unique ID of the customer in your system.", minLength=1, maxLength=100),
        "amount": _int("The amount of the sale in cents.", minimum=0),
        "currency": _str("The currency of the sale (ISO 4217, lowercased).", default="usd"),
        "eventName": _str("The name of the sale event.", maxLength=255, default="Purchase"),
        "paymentProcessor": _str("The payment processor the sale came through.", enum=PAYMENT_PROCESSORS,
                                 default="custom"),
        "invoiceId": _nstr("The invoice ID; a repeated invoiceId returns the first response and changes nothing."),
        "leadEventName": _nstr("The lead event the sale follows (default: the customer's latest lead)."),
        "clickId": _nstr("For direct sale tracking: the click of a customer with no lead yet."),
        "customerName": _nstr("The name of the customer (direct sale tracking).", maxLength=100),
        "customerEmail": _nstr("The email of the customer (direct sale tracking).", format="email", maxLength=100),
        "customerAvatar": _nstr("The avatar URL of the customer (direct sale tracking)."),
        "metadata": _nullable({"type": "object", "description": "Additional data, at most 10,000 characters "
                                                                "as JSON."}),
    },
    required=["customerExternalId", "amount"],
)

_TRACK_SALE_RESPONSE = _object(
    {
        "eventName": _str("The name of the sale event."),
        "customer": _nullable(_object(
            {"id": _str(), "name": _nstr(), "email": _nstr(), "avatar": _nstr(), "externalId": _nstr()},
            required=["id", "name", "email", "avatar", "externalId"],
        )),
        "sale": _nullable(_object(
            {"amount": _num("The amount in cents."), "currency": _str(), "paymentProcessor": _str(),
             "invoiceId": _nstr(), "metadata": _nullable({"type": "object"})},
            required=["amount", "currency", "paymentProcessor", "invoiceId", "metadata"],
        )),
    },
    required=["eventName", "customer", "sale"],
    description="customer and sale are null when the customer is unknown and no clickId was given.",
)

_CUSTOMER = _object(
    {
        "id": _str("The unique ID of the customer, prefixed with cus_."),
        "externalId": _str("The unique ID of the customer in your system."),
        "name": _nstr("The name of the customer."),
        "email": _nstr("The email of the customer."),
        "avatar": _nstr("The avatar URL of the customer."),
        "stripeCustomerId": _nstr("Accepted for compatibility."),
        "country": _nstr("The country of the customer's click (ISO 3166-1 alpha-2)."),
        "sales": _nullable({"type": "number", "description": "The number of sales of the customer."}),
        "saleAmount": _nullable({"type": "number", "description": "The total sale amount, in cents."}),
        "firstSaleAt": _ndate("When the customer's first sale was tracked."),
        "subscriptionCanceledAt": _ndate("Accepted for compatibility."),
        "link": _nullable(_object(
            {"id": _str(), "domain": _str(), "key": _str(), "shortLink": _str(), "url": _str(),
             "programId": _nstr()},
            required=["id", "domain", "key", "shortLink", "url", "programId"],
            description="The link the customer came through (with includeExpandedFields).",
        )),
        "programId": _nstr("Accepted for compatibility."),
        "partner": {"type": "null", "description": "Dub's partner program (always null here; with "
                                                   "includeExpandedFields)."},
        "discount": {"type": "null", "description": "Dub's partner discount (always null here; with "
                                                    "includeExpandedFields)."},
        "createdAt": _date("When the customer was created."),
    },
    required=["id", "externalId", "createdAt"],
)

_CUSTOMER_UPDATE = _object({
    "name": _nstr(maxLength=100), "email": _nstr(format="email", maxLength=100), "avatar": _nstr(),
    "externalId": _str(minLength=1, maxLength=100), "stripeCustomerId": _nstr(), "country": _str(),
    "subscriptionCanceledAt": _nstr(),
})

_CLICK = _object(
    {
        "id": _str("The click ID (16 characters of [0-9A-Za-z])."),
        "timestamp": _date("When the click happened."),
        "url": _str("The final destination URL the visitor was sent to."),
        "country": _str(), "city": _str(), "region": _str(), "continent": _str(),
        "device": _str(), "browser": _str(), "os": _str(),
        "referer": _str("The referring host, or (direct)."),
        "refererUrl": _str("The referring URL, or (direct)."),
        "qr": _bool("Whether the click came from a QR code scan (?qr=1)."),
        "ip": _str("The client IP truncated to /24 (IPv4) or /48 (IPv6)."),
        "ua": _nstr("The user agent."),
        "trigger": _nstr("link or qr."),
    },
    required=["id", "timestamp", "url", "country", "city", "region", "continent", "device", "browser", "os",
              "referer", "refererUrl", "qr", "ip"],
)

# Dub's events also repeat some click fields flat at the top (deprecated); the SDK requires them.
_FLAT_EVENT_FIELDS = {
    "click_id": _str(), "link_id": _str(), "domain": _str(), "key": _str(), "url": _str(),
    "continent": _str(), "country": _str(), "city": _str(), "device": _str(), "browser": _str(), "os": _str(),
    "qr": _num(), "ip": _str(),
}


def _event(kind: str, extra: dict[str, Schema], extra_required: list[str]) -> Schema:
    props = {
        "event": _str(enum=[kind]),
        "timestamp": _date("When the event happened."),
        "click": _ref("Click"),
        "link": _ref("Link"),
        **extra,
        **_FLAT_EVENT_FIELDS,
    }
    return _object(props, required=["event", "timestamp", "click", "link", *extra_required, *_FLAT_EVENT_FIELDS])


_CLICK_EVENT = _event("click", {}, [])
_LEAD_EVENT = _event("lead", {
    "eventId": _str(), "eventName": _str(),
    "customer": _nullable(_ref("Customer") | {"description": "Null when the customer was deleted."}),
    "metadata": {"description": "The metadata sent with the event."},
}, ["eventId", "eventName", "customer"])
_SALE_EVENT = _event("sale", {
    "eventId": _str(), "eventName": _str(),
    "customer": _nullable(_ref("Customer") | {"description": "Null when the customer was deleted."}),
    "sale": _object({"amount": _int("In cents."), "currency": _str(), "invoiceId": _nstr(),
                     "paymentProcessor": _str(enum=PAYMENT_PROCESSORS)}, required=["amount", "currency"]),
    "saleAmount": _num(), "invoice_id": _str(), "payment_processor": _str(),
    "metadata": {"description": "The metadata sent with the event."},
}, ["eventId", "eventName", "customer", "sale", "saleAmount", "invoice_id", "payment_processor"])

# The filters of /analytics and /events (shortener/eventfilters.py): each takes one value or a
# comma-separated list; a leading `-` excludes the listed values instead.
_LIST_NOTE = " One value or a comma-separated list; prefix with - to exclude."
_FILTER_DOCS = {
    "domain": "Only events of links on these domains.",
    "key": "Only events of links with these keys.",
    "linkId": "Only events of these links (ids or ext_<externalId>).",
    "externalId": "Only events of the links with these externalIds (ext_ prefix optional).",
    "tenantId": "Only events of links of these tenants.",
    "tagId": "Only events of links with this tag (deprecated: use tagIds).",
    "tagIds": "Only events of links with any of these tags.",
    "folderId": "Only events of links in these folders.",
    "programId": "Only events of links of these programs.",
    "partnerId": "Only events of links of these partners.",
    "groupId": "Partner groups (accepted for Dub compatibility; no link has one).",
    "partnerTagId": "Partner tags (accepted for Dub compatibility; no link has one).",
    "customerId": "Only events of these customers (for clicks: the clicks the customers came through).",
    "country": "Only events from these countries (ISO 3166-1 alpha-2).",
    "city": "Only events from these cities.",
    "region": "Only events from these regions (ISO 3166-2, e.g. US-CA).",
    "continent": "Only events from these continents (AF, AN, AS, EU, NA, OC, SA).",
    "device": "Only events from these device types (case-insensitive).",
    "browser": "Only events from these browsers (case-insensitive).",
    "os": "Only events from these operating systems (case-insensitive).",
    "trigger": "Only events whose click came this way: link, qr (pageview, deeplink never happen here).",
    "eventName": "Only lead or sale events with these names.",
    "referer": "Only events with these referring hosts.",
    "refererUrl": "Only events with these referring URLs.",
    "url": "Only events whose click went to these destination URLs.",
    "utm_source": "Only events of links with these UTM sources.",
    "utm_medium": "Only events of links with these UTM media.",
    "utm_campaign": "Only events of links with these UTM campaigns.",
    "utm_term": "Only events of links with these UTM terms.",
    "utm_content": "Only events of links with these UTM contents.",
}
_FILTER_PARAMS = [
    *(_query(name, _str(), text + _LIST_NOTE) for name, text in _FILTER_DOCS.items()),
    _query("saleType", _str(enum=["new", "recurring"]),
           "Sales only: the customer's first sale (new) or a later one (recurring)."),
    _query("root", _bool(), "Only root links (true) or only other links (false)."),
    {**_query("qr", _bool(), "Only QR scans (true) or only other clicks (false); deprecated: use trigger."),
     "deprecated": True},
    _query("query", _str(maxLength=10000), "Lead and sale events whose metadata matches, e.g. "
           "metadata['plan']:'pro' AND metadata.order.id:42 (AND binds before OR)."),
]
_TIME_PARAMS = [
    _query("interval", _str(enum=list(INTERVALS)),
           "The time range, up to now (24h when neither interval nor start is given). all starts with "
           "the first link or event."),
    _query("start", _str(), "The start of the range (ISO-8601); wins over interval."),
    _query("end", _str(), "The range runs to the end of this day in the time zone (ISO-8601); default today."),
    _query("timezone", _str(default="UTC"), "IANA time zone for the end of day and the timeseries buckets."),
]

_EVENT_PARAMS = [
    _query("event", _str(enum=["clicks", "leads", "sales"], default="clicks"), "The kind of event to list."),
    *_FILTER_PARAMS,
    *_TIME_PARAMS,
    _query("page", _int(minimum=1, default=1), "The page number."),
    _query("limit", _int(minimum=1, maximum=1000, default=100), "The number of events per page."),
    _query("sortOrder", _str(enum=["asc", "desc"], default="desc"), "The sort order by timestamp."),
    _query("sortBy", _str(enum=["timestamp"], default="timestamp"), "The sort field."),
    {**_query("order", _str(enum=["asc", "desc"], default="desc"), "The sort order (deprecated: use sortOrder)."),
     "deprecated": True},
]

# ---------------------------------------------------------------------------------------------
# Analytics (GET /analytics): Dub's shapes, one schema per groupBy.

_FIGURES = {
    "clicks": _num("Clicks (0 unless event is clicks or composite)."),
    "leads": _num("Leads (0 unless event is leads or composite)."),
    "sales": _num("Sales (0 unless event is sales or composite)."),
    "saleAmount": _num("Sales amount in cents (0 unless event is sales or composite)."),
}
_SDK_URL = _str("The group's own value again (domain, tag id, folder id or UTM value): the official SDK "
                "parses these rows only with a url field.")


def _analytics_row(fields: dict[str, Schema]) -> Schema:
    return _object({**fields, **_FIGURES}, required=[*fields, *_FIGURES])


_ANALYTICS_SCHEMAS = {
    "AnalyticsCount": _object(_FIGURES, required=list(_FIGURES)),
    "AnalyticsTimeseries": _analytics_row({"start": _date("The UTC instant the bucket starts (local hour, "
                                                          "day or month of the time zone).")}),
    "AnalyticsContinents": _analytics_row({"continent": _str(enum=["AF", "AN", "AS", "EU", "NA", "OC", "SA"])}),
    "AnalyticsCountries": _analytics_row({"country": _str("ISO 3166-1 alpha-2, or Unknown."),
                                          "region": _str(enum=["*"]), "city": _str(enum=["*"])}),
    "AnalyticsRegions": _analytics_row({"country": _str(), "region": _str("ISO 3166-2, e.g. US-CA."),
                                        "city": _str(enum=["*"])}),
    "AnalyticsCities": _analytics_row({"country": _str(), "region": _str("ISO 3166-2, e.g. US-CA."),
                                       "city": _str()}),
    "AnalyticsDevices": _analytics_row({"device": _str()}),
    "AnalyticsBrowsers": _analytics_row({"browser": _str()}),
    "AnalyticsOS": _analytics_row({"os": _str()}),
    "AnalyticsTriggers": _analytics_row({"trigger": _str(enum=["qr", "link", "pageview", "deeplink"])}),
    "AnalyticsEventNames": _analytics_row({"eventName": _str()}),
    "AnalyticsReferers": _analytics_row({"referer": _str("The referring host, or (direct).")}),
    "AnalyticsRefererUrls": _analytics_row({"refererUrl": _str("The referring URL, or (direct).")}),
    "AnalyticsTopLinks": _object(
        {"link": _str("The link id (deprecated: use id)."), "id": _str(), "domain": _str(), "key": _str(),
         "shortLink": _str(), "url": _str(), "title": _nstr(), "comments": _nstr(), "folderId": _nstr(),
         "partnerId": _nstr(), "createdAt": _date("When the link was created."), **_FIGURES},
        required=["link", "id", "domain", "key", "shortLink", "url", "createdAt", *_FIGURES]),
    "AnalyticsTopUrls": _analytics_row({"url": _str("The destination URL (top_base_urls: without its query).")}),
    "AnalyticsTopDomains": _analytics_row({"domain": _str(), "url": _SDK_URL}),
    "AnalyticsTopLinkTags": _analytics_row({"tagId": _str(), "tag": _ref("LinkTag"), "url": _SDK_URL}),
    "AnalyticsTopFolders": _analytics_row({"folderId": _str(), "folder": _object(
        {"id": _str(), "name": _str()}, required=["id", "name"]), "url": _SDK_URL}),
    **{f"AnalyticsUtm{part.title()}s": _analytics_row({f"utm_{part}": _str(), "url": _SDK_URL})
       for part in ("source", "medium", "campaign", "term", "content")},
}

_ANALYTICS_PARAMS = [
    _query("event", _str(enum=["clicks", "leads", "sales", "composite"], default="clicks"),
           "What to count; composite counts all four figures."),
    _query("groupBy", _str(enum=list(GROUP_BYS), default="count"), "How to group the figures."),
    *_TIME_PARAMS,
    *_FILTER_PARAMS,
]

# ---------------------------------------------------------------------------------------------
# Webhooks (not in Dub's public API; our own management endpoints)

_WEBHOOK = _object(
    {
        "id": _str("The unique ID of the webhook, prefixed with wh_."),
        "name": _str("The name of the webhook."),
        "url": _str("The URL deliveries are POSTed to.", format="uri"),
        "secret": _str("The signing secret: Dub-Signature is the HMAC-SHA256 hex of the raw body with it."),
        "triggers": _array(_str(enum=WEBHOOK_TRIGGERS), "The events delivered to this webhook."),
        "linkIds": _array(_str(), "For link.clicked: the links whose clicks are delivered."),
        "disabledAt": _ndate("When the webhook was disabled (after too many consecutive failures, or by "
                             "disabled: true)."),
        "consecutiveFailures": _int("Failed deliveries in a row; the webhook is disabled when this reaches "
                                    "SHORTENER_WEBHOOK_MAX_FAILURES."),
        "createdAt": _date("When the webhook was created."),
        "updatedAt": _date("When the webhook was last updated."),
    },
    required=["id", "name", "url", "secret", "triggers", "linkIds", "disabledAt", "createdAt", "updatedAt"],
)


def _webhook_input(*, create: bool) -> Schema:
    props = {
        "name": _str(minLength=1, maxLength=40),
        "url": _str("An http(s) URL; private and loopback addresses only with SHORTENER_WEBHOOK_ALLOW_PRIVATE, "
                    "link-local and metadata addresses never.", format="uri", maxLength=2000),
        "secret": _str("A signing secret of your own; generated when not given.", minLength=16, maxLength=128),
        "triggers": _array(_str(enum=WEBHOOK_TRIGGERS), minItems=1),
        "linkIds": _array(_str(), "The links whose clicks are delivered (sets their webhookIds)."),
    }
    if not create:
        props["disabled"] = _bool("false re-enables a webhook disabled after failures.")
    return _object(props, required=["name", "url", "triggers"] if create else ())


_WEBHOOK_DELIVERY = _object(
    {
        "id": _str("The unique ID of the delivery."),
        "event": _str(enum=WEBHOOK_TRIGGERS),
        "eventId": _str("The id of the event payload (evt_...)."),
        "status": _str("pending, delivered or failed."),
        "attempts": _int("How many times delivery was attempted."),
        "responseStatus": _nullable({"type": "integer", "description": "The receiver's last HTTP status."}),
        "lastError": _nstr("Why the last attempt failed (refused, timeout, blocked address, HTTP status)."),
        "nextAttemptAt": _ndate("When the next attempt is due (pending deliveries only)."),
        "deliveredAt": _ndate("When the receiver accepted the delivery."),
        "createdAt": _date("When the delivery was queued."),
    },
    required=["id", "event", "status", "attempts", "createdAt"],
)



def _webhook_event(events: list[str], data: Schema, description: str) -> Schema:
    return _object(
        {
            "id": _str("The unique ID of the event, prefixed with evt_; the same on every retry."),
            "event": _str(enum=events),
            "createdAt": _date("When the event happened."),
            "data": data,
        },
        required=["id", "event", "createdAt", "data"],
        description=description,
    )


_CONVERSION_DATA = {
    "eventName": _str("The name of the lead or sale event."),
    "customer": _ref("Customer"),
    "click": _ref("Click"),
    "link": _ref("Link"),
    "metadata": _nullable({"type": "object", "description": "The metadata sent with the event."}),
    "partner": {"type": "null", "description": "Dub's partner program (always null here)."},
}

_WEBHOOK_EVENTS: dict[str, Schema] = {
    "LinkWebhookEvent": _webhook_event(
        ["link.created", "link.updated", "link.deleted"], _ref("Link"),
        "link.created, link.updated, link.deleted: the link as the API returns it (for link.deleted, as it was)."),
    "LinkClickedEvent": _webhook_event(["link.clicked"], _ref("LinkClickedEventData"),
                                       "link.clicked: sent only to the webhooks named in the link's webhookIds."),
    "LeadCreatedEvent": _webhook_event(["lead.created"], _ref("LeadCreatedEventData"), "lead.created."),
    "SaleCreatedEvent": _webhook_event(["sale.created"], _ref("SaleCreatedEventData"), "sale.created."),
}
_WEBHOOK_EVENT_DATA: dict[str, Schema] = {
    "LinkClickedEventData": _object({"click": _ref("Click"), "link": _ref("Link")}, required=["click", "link"]),
    "LeadCreatedEventData": _object(_CONVERSION_DATA, required=["eventName", "customer", "click", "link",
                                                                "metadata"]),
    "SaleCreatedEventData": _object(
        {**_CONVERSION_DATA,
         "sale": _object({"amount": _num("The amount in cents."), "currency": _str(),
                          "paymentProcessor": _str(enum=PAYMENT_PROCESSORS), "invoiceId": _nstr()},
                         required=["amount", "currency", "paymentProcessor", "invoiceId"])},
        required=["eventName", "customer", "click", "link", "sale", "metadata"]),
}
_WEBHOOK_EVENT_OF = {
    "link.created": "LinkWebhookEvent", "link.updated": "LinkWebhookEvent", "link.deleted": "LinkWebhookEvent",
    "link.clicked": "LinkClickedEvent", "lead.created": "LeadCreatedEvent", "sale.created": "SaleCreatedEvent",
}


# ---------------------------------------------------------------------------------------------
# Operations

# 403: the key lacks the endpoint's scope (see the securitySchemes description).
_AUTH_ERRORS = ("bad_request", "unauthorized", "forbidden", "internal_server_error",
                "service_unavailable")


def _op(op_id: str, tag: str, summary: str, responses: dict[str, Schema], *, errors: tuple[str, ...] = (),
        params: list[Schema] | None = None, body: Schema | None = None, public: bool = False,
        description: str = "") -> Schema:
    operation: Schema = {"operationId": op_id, "tags": [tag], "summary": summary}
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = body
    codes = ("internal_server_error", "service_unavailable") if public else _AUTH_ERRORS
    all_errors = sorted(set(codes) | set(errors), key=lambda c: ERROR_CODES[c])
    operation["responses"] = {
        **responses,
        **{str(ERROR_CODES[c]): {"$ref": f"#/components/responses/{_ERROR_RESPONSES[c]}"} for c in all_errors},
    }
    if public:
        operation["security"] = []
    return operation


_LINK_ID = _path("linkId", "The link's id, or ext_<externalId>.")
_LINK = _json(_ref("Link"), "The link.")


def _put_alias(patch: Schema) -> Schema:
    """PUT on a resource behaves exactly like PATCH (Dub keeps PUT for older clients)."""
    return {**patch, "operationId": patch["operationId"] + "Put", "deprecated": True,
            "description": (patch.get("description", "") + " The same as PATCH; kept for older clients.").strip()}


def _paths() -> dict[str, Schema]:
    paths = _own_paths()
    for path in ("/links/{linkId}", "/tags/{id}", "/domains/{slug}", "/folders/{id}"):
        paths[path]["put"] = _put_alias(paths[path]["patch"])
    return paths


def _own_paths() -> dict[str, Schema]:
    link_list = _json(_array(_ref("Link")), "The links.")
    bulk_result = _json(_array({"anyOf": [_ref("Link"), _ref("LinkError")]}),
                        "One entry per request item, in order: the link, or why that item failed.")
    return {
        "/links": {
            "post": _op("createLink", "Links", "Create a link", {"200": _LINK}, body=_body(_ref("LinkCreate")),
                        errors=("forbidden", "not_found", "conflict", "unprocessable_entity")),
            "get": _op("getLinks", "Links", "List links", {"200": link_list}, params=_LINK_LIST_PARAMS,
                       errors=("unprocessable_entity",),
                       description="Newest first by default; archived links only with showArchived=true."),
        },
        "/links/info": {
            "get": _op("getLinkInfo", "Links", "Retrieve a link", {"200": _LINK}, params=[
                _query("linkId", _str(), "The link's id."),
                _query("externalId", _str(), "The link's externalId, prefixed with ext_."),
                _query("domain", _str(), "The link's domain (with key)."),
                _query("key", _str(), "The link's key (with domain)."),
            ], errors=("not_found", "unprocessable_entity"),
                description="Give linkId, or externalId, or domain and key."),
        },
        "/links/count": {
            "get": _op("getLinksCount", "Links", "Count links", {
                "200": _json({"anyOf": [_num(), _array({"type": "object", "additionalProperties": True})]},
                             "The number of links matching the filters, or one {<groupBy>, _count} per group "
                             "with groupBy."),
            }, params=_LINK_FILTERS + [
                _query("groupBy", _str(enum=["domain", "tagId", "userId", "folderId"]), "Count per group."),
            ], errors=("unprocessable_entity",)),
        },
        "/links/upsert": {
            "put": _op("upsertLink", "Links", "Upsert a link", {"200": _LINK}, body=_body(_ref("LinkCreate")),
                       errors=("forbidden", "not_found", "conflict", "unprocessable_entity"),
                       description="Updates the link on the requested domain (default: the default domain) whose "
                                   "destination is this url, otherwise creates one. An upsert that changes "
                                   "nothing returns the link as it is."),
        },
        "/links/bulk": {
            "post": _op("bulkCreateLinks", "Links", "Create up to 100 links", {"200": bulk_result},
                        body=_body(_array(_ref("LinkCreate"), minItems=1, maxItems=100)),
                        errors=("unprocessable_entity",)),
            "patch": _op("bulkUpdateLinks", "Links", "Update up to 100 links", {"200": bulk_result},
                         body=_body(_object({
                             "linkIds": _array(_str(), "Link ids (ext_<externalId> accepted too).", maxItems=100),
                             "externalIds": _array(_str(), "External ids, with or without the ext_ prefix.",
                                                   maxItems=100),
                             "data": _ref("LinkBulkUpdate"),
                         }, required=["data"])), errors=("unprocessable_entity",),
                         description="Applies the same changes to every link named by linkIds or externalIds."),
            "delete": _op("bulkDeleteLinks", "Links", "Delete up to 100 links", {
                "200": _json(_object({"deletedCount": _int("How many links were deleted.")},
                                     required=["deletedCount"]), "How many links were deleted."),
            }, params=[_query("linkIds", _STRING_OR_LIST, "The ids of the links to delete (comma-separated).",
                              required=True)], errors=("unprocessable_entity",)),
        },
        "/links/{linkId}": {
            "parameters": [_LINK_ID],
            "get": _op("getLink", "Links", "Retrieve a link by id", {"200": _LINK}, errors=("not_found",)),
            "patch": _op("updateLink", "Links", "Update a link", {"200": _LINK}, body=_body(_ref("LinkUpdate")),
                         errors=("forbidden", "not_found", "conflict", "unprocessable_entity"),
                         description="Only the fields sent change; null clears a nullable field."),
            "delete": _op("deleteLink", "Links", "Delete a link", {
                "200": _json(_object({"id": _str()}, required=["id"]), "The id of the deleted link."),
            }, errors=("not_found",)),
        },
        "/tags": {
            "post": _op("createTag", "Tags", "Create a tag", {"201": _json(_ref("LinkTag"), "The tag.")},
                        body=_body(_ref("TagCreate")), errors=("conflict", "unprocessable_entity")),
            "get": _op("getTags", "Tags", "List tags", {"200": _json(_array(_ref("LinkTag")), "The tags.")}, params=[
                _query("sortBy", _str(enum=["name", "createdAt"], default="name"), "The sort field."),
                _query("sortOrder", _str(enum=["asc", "desc"], default="asc"), "The sort order."),
                _query("search", _str(), "Only tags whose name contains this text."),
                _query("ids", _STRING_OR_LIST, "Only these tag ids."),
                _query("page", _int(minimum=1, default=1), "The page number."),
                _query("pageSize", _int(minimum=1, maximum=100, default=100), "Tags per page."),
            ], errors=("unprocessable_entity",)),
        },
        "/tags/{id}": {
            "parameters": [_path("id", "The tag's id.")],
            "patch": _op("updateTag", "Tags", "Update a tag", {"200": _json(_ref("LinkTag"), "The tag.")},
                         body=_body(_ref("TagUpdate")), errors=("not_found", "conflict", "unprocessable_entity")),
            "delete": _op("deleteTag", "Tags", "Delete a tag", {
                "200": _json(_object({"id": _str()}, required=["id"]), "The id of the deleted tag."),
            }, errors=("not_found",)),
        },
        "/folders": {
            "post": _op("createFolder", "Folders", "Create a folder", {"201": _json(_ref("Folder"), "The folder.")},
                        body=_body(_ref("FolderCreate")), errors=("forbidden", "conflict", "unprocessable_entity")),
            "get": _op("listFolders", "Folders", "List folders", {
                "200": _json(_array(_ref("Folder")), "The folders, by name."),
            }, params=[
                _query("search", _str(maxLength=190), "Only folders whose name contains this text."),
                _query("page", _int(minimum=1, default=1), "The page number."),
                _query("pageSize", _int(minimum=1, maximum=50, default=50), "Folders per page."),
            ], errors=("forbidden", "unprocessable_entity")),
        },
        "/folders/{id}": {
            "parameters": [_path("id", "The folder's id.")],
            "get": _op("getFolder", "Folders", "Retrieve a folder", {"200": _json(_ref("Folder"), "The folder.")},
                       errors=("forbidden", "not_found")),
            "patch": _op("updateFolder", "Folders", "Update a folder", {"200": _json(_ref("Folder"), "The folder.")},
                         body=_body(_ref("FolderUpdate")),
                         errors=("forbidden", "not_found", "conflict", "unprocessable_entity")),
            "delete": _op("deleteFolder", "Folders", "Delete a folder", {
                "200": _json(_object({"id": _str()}, required=["id"]), "The id of the deleted folder."),
            }, errors=("forbidden", "not_found"), description="The folder's links stay; their folderId becomes null."),
        },
        "/domains": {
            "post": _op("createDomain", "Domains", "Create a domain", {"201": _json(_ref("Domain"), "The domain.")},
                        body=_body(_ref("DomainCreate")), errors=("conflict", "unprocessable_entity")),
            "get": _op("listDomains", "Domains", "List domains", {
                "200": _json(_array(_ref("Domain")), "The domains."),
            }, params=[
                _query("archived", _bool(default=False), "List archived domains instead."),
                _query("search", _str(), "Only domains whose slug contains this text."),
                _query("page", _int(minimum=1, default=1), "The page number."),
                _query("pageSize", _int(minimum=1, maximum=100, default=50), "Domains per page."),
            ], errors=("unprocessable_entity",)),
        },
        "/domains/status": {
            "get": _op("checkDomainStatus", "Domains", "Check whether domains are available", {
                "200": _json(_array(_ref("DomainStatus")), "One entry per domain, in the order asked."),
            }, params=[
                _query("domains", _STRING_OR_LIST, "The domains to check (comma-separated or repeated; at most 50).",
                       required=True),
            ], errors=("unprocessable_entity",),
                description="Self-hosted meaning of Dub's check: a domain is available when it is not configured "
                            "on this server. There is no registrar, so premium and prices are always null."),
        },
        "/domains/{slug}": {
            "parameters": [_path("slug", "The domain name.")],
            "patch": _op("updateDomain", "Domains", "Update a domain", {"200": _json(_ref("Domain"), "The domain.")},
                         body=_body(_ref("DomainUpdate")),
                         errors=("forbidden", "not_found", "conflict", "unprocessable_entity")),
            "delete": _op("deleteDomain", "Domains", "Delete a domain and its links", {
                "200": _json(_object({"slug": _str()}, required=["slug"]), "The deleted domain."),
            }, errors=("forbidden", "not_found"), description="The default domain cannot be deleted (403)."),
        },
        "/qr": {
            "get": _op("getQRCode", "QR codes", "Render a QR code", {
                "200": {"description": "The QR code image.", "content": {
                    "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}},
                    "image/svg+xml": {"schema": {"type": "string"}},
                }},
            }, params=[
                _query("url", _str(minLength=1, maxLength=2048), "The URL (or any text) to encode.", required=True),
                _query("size", _int(minimum=32, maximum=2000, default=600),
                       "The largest width and height in pixels; the image is the largest whole multiple of the "
                       "QR modules that fits, so module edges stay sharp."),
                _query("level", _str(enum=["L", "M", "Q", "H"], default="L"), "The error correction level."),
                _query("fgColor", _str(default="#000000", pattern=_HEX_COLOR), "The foreground color (hex, # optional)."),
                _query("bgColor", _str(default="#FFFFFF", pattern=_HEX_COLOR), "The background color (hex, # optional)."),
                _query("margin", _int(minimum=0, maximum=20, default=2), "The quiet zone, in modules."),
                _query("format", _str(enum=["png", "svg"], default="png"), "Our extension: png or svg."),
            ], errors=("bad_request", "unprocessable_entity", "rate_limit_exceeded"), public=True,
               description="Drawn in worker processes; past SHORTENER_QR_MAX_PENDING codes at once the answer "
                           "is 429 with Retry-After. Data that does not fit a QR code at `level` is 422."),
        },
        "/track/lead": {
            "post": _op("trackLead", "Track", "Track a lead", {
                "200": _json(_ref("TrackLeadResponse"), "The lead was recorded (committed), or was a repeat."),
            }, body=_body(_ref("TrackLeadRequest")), errors=("not_found", "unprocessable_entity")),
        },
        "/track/sale": {
            "post": _op("trackSale", "Track", "Track a sale", {
                "200": _json(_ref("TrackSaleResponse"), "The sale was recorded (committed), or was a repeat."),
            }, body=_body(_ref("TrackSaleRequest")), errors=("not_found", "unprocessable_entity")),
        },
        "/track/click": {
            "post": {**_op("trackClick", "Track", "Track a click from a landing page", {
                "200": _json(_ref("TrackClickResponse"), "The click was recorded (or was a repeat of this "
                                                         "visitor's click inside the dedup window)."),
            }, body=_body(_ref("TrackClickRequest")), errors=("forbidden", "not_found", "unprocessable_entity"),
                description="Dub's client-side click tracking, called by a landing page's script, without a "
                            "key as Dub's @dub/analytics script does (the body's domain must be one of ours) or "
                            "with a publishable key (dub_pk_..., from `shortener keys create --publishable`). "
                            "Only pages on a hostname in SHORTENER_TRACK_ALLOWED_HOSTNAMES may call it (CORS: "
                            "their origin is echoed in Access-Control-Allow-Origin); others get 403 and no CORS "
                            "headers."),
                "security": [{"publishableKey": []}, {}]},
            "options": _op("trackClickPreflight", "Track", "CORS preflight for /track/click", {
                "204": {"description": "The calling page is allowed: the CORS headers."},
            }, errors=("forbidden",), public=True),
        },
        "/customers": {
            "get": _op("getCustomers", "Customers", "List customers", {
                "200": _json(_array(_ref("Customer")), "The customers."),
            }, params=[
                _query("email", _str(), "Only the customer with this email."),
                _query("externalId", _str(), "Only the customer with this externalId."),
                _query("search", _str(), "Only customers whose name, email or externalId contains this text."),
                _query("country", _str(), "Only customers from this country (ISO 3166-1 alpha-2)."),
                _query("linkId", _str(), "Only customers who came through this link."),
                _query("includeExpandedFields", _bool(), "Include the customer's link."),
                _query("sortBy", _str(enum=["createdAt", "saleAmount", "firstSaleAt", "subscriptionCanceledAt"],
                                      default="createdAt"), "The sort field."),
                _query("sortOrder", _str(enum=["asc", "desc"], default="desc"), "The sort order."),
                _query("page", _int(minimum=1, default=1), "The page number."),
                _query("pageSize", _int(minimum=1, maximum=100, default=100), "Customers per page."),
                _query("startingAfter", _str(), "Cursor paging (sortBy=createdAt only): the customers after this "
                                                "customer id. An id that names no customer gives an empty list "
                                                "(200)."),
                _query("endingBefore", _str(), "Cursor paging (sortBy=createdAt only): the customers before this "
                                               "customer id. An id that names no customer gives an empty list "
                                               "(200)."),
            ], errors=("unprocessable_entity",)),
        },
        "/customers/{id}": {
            "parameters": [_path("id", "The customer's id (cus_...), or ext_<externalId>.")],
            "get": _op("getCustomer", "Customers", "Retrieve a customer", {
                "200": _json(_ref("Customer"), "The customer."),
            }, params=[_query("includeExpandedFields", _bool(), "Include the customer's link.")],
                errors=("not_found", "unprocessable_entity")),
            "patch": _op("updateCustomer", "Customers", "Update a customer", {
                "200": _json(_ref("Customer"), "The customer."),
            }, params=[_query("includeExpandedFields", _bool(), "Include the customer's link.")],
                body=_body(_ref("CustomerUpdate")), errors=("not_found", "conflict", "unprocessable_entity")),
            "delete": _op("deleteCustomer", "Customers", "Delete a customer", {
                "200": _json(_object({"id": _str()}, required=["id"]), "The id of the deleted customer."),
            }, errors=("not_found",)),
        },
        "/events": {
            "get": _op("listEvents", "Events", "List click, lead or sale events", {
                "200": _json(_array({"anyOf": [_ref("ClickEvent"), _ref("LeadEvent"), _ref("SaleEvent")]}),
                             "The events, newest first by default."),
            }, params=_EVENT_PARAMS, errors=("unprocessable_entity",)),
        },
        "/analytics": {
            "get": _op("retrieveAnalytics", "Analytics", "Retrieve analytics for links", {
                "200": _json({"anyOf": [
                    _ref("AnalyticsCount"),
                    _array({"anyOf": [_ref(name) for name in _ANALYTICS_SCHEMAS if name != "AnalyticsCount"]}),
                ]}, "groupBy=count: one object; otherwise a list, largest first (timeseries: in time order, "
                    "every bucket present). Bots are never counted."),
            }, params=_ANALYTICS_PARAMS, errors=("unprocessable_entity",)),
        },
        "/webhooks": {
            "post": _op("createWebhook", "Webhooks", "Create a webhook", {
                "201": _json(_ref("Webhook"), "The webhook, with its secret."),
            }, body=_body(_ref("WebhookCreate")), errors=("unprocessable_entity",)),
            "get": _op("listWebhooks", "Webhooks", "List webhooks", {
                "200": _json(_array(_ref("Webhook")), "The webhooks."),
            }),
        },
        "/webhooks/{webhookId}": {
            "parameters": [_path("webhookId", "The webhook's id.")],
            "get": _op("getWebhook", "Webhooks", "Retrieve a webhook", {
                "200": _json(_ref("Webhook"), "The webhook."),
            }, errors=("not_found",)),
            "patch": _op("updateWebhook", "Webhooks", "Update a webhook", {
                "200": _json(_ref("Webhook"), "The webhook."),
            }, body=_body(_ref("WebhookUpdate")), errors=("not_found", "unprocessable_entity")),
            "delete": _op("deleteWebhook", "Webhooks", "Delete a webhook", {
                "200": _json(_object({"id": _str()}, required=["id"]), "The id of the deleted webhook."),
            }, errors=("not_found",)),
        },
        "/webhooks/{webhookId}/rotate-secret": {
            "parameters": [_path("webhookId", "The webhook's id.")],
            "post": _op("rotateWebhookSecret", "Webhooks", "Replace a webhook's signing secret", {
                "200": _json(_ref("Webhook"), "The webhook with its new secret."),
            }, errors=("not_found",)),
        },
        "/webhooks/{webhookId}/deliveries": {
            "parameters": [_path("webhookId", "The webhook's id.")],
            "get": _op("listWebhookDeliveries", "Webhooks", "List a webhook's deliveries", {
                "200": _json(_array(_ref("WebhookDelivery")), "The deliveries, newest first."),
            }, params=[_query("limit", _int(minimum=1, maximum=1000, default=100), "At most this many.")],
                errors=("not_found", "unprocessable_entity")),
        },
        "/openapi.json": {
            "get": _op("getOpenApiDocument", "Meta", "This document", {
                "200": _json({"type": "object"}, "The OpenAPI 3.1 document."),
            }, public=True),
        },
    }


def _components() -> Schema:
    link_create = _object(_link_input_properties(), required=["url"])
    link_update = _object(_link_input_properties())
    link_bulk_update = _object(_link_input_properties(with_key_fields=False),
                               description="The changes applied to every link; domain, key and externalId "
                                           "cannot be changed in bulk.")
    return {
        "schemas": {
            "Link": _object(_LINK_FIELDS, required=_LINK_REQUIRED),
            "LinkTag": _LINK_TAG,
            "LinkError": _LINK_ERROR,
            "LinkCreate": link_create,
            "LinkUpdate": link_update,
            "LinkBulkUpdate": link_bulk_update,
            "TagCreate": _object(_TAG_BODY),
            "TagUpdate": _object(_TAG_BODY),
            "Domain": _object(_DOMAIN_FIELDS, required=_DOMAIN_REQUIRED),
            "DomainCreate": _domain_input(slug_required=True),
            "DomainStatus": _object({
                "domain": _str("The domain name (lowercase, punycode)."),
                "available": _bool("True when the domain is not configured on this server."),
                "premium": {"type": "null", "description": "Always null (no registrar here)."},
                "prices": {"type": "null", "description": "Always null (no registrar here)."},
                "price": {"type": "null", "description": "Deprecated in Dub; always null."},
            }, required=["domain", "available", "premium", "prices", "price"]),
            "Folder": _FOLDER,
            "FolderCreate": _folder_input(create=True),
            "FolderUpdate": _folder_input(create=False),
            "DomainUpdate": _domain_input(slug_required=False),
            "TrackLeadRequest": _TRACK_LEAD_BODY,
            "TrackLeadResponse": _TRACK_LEAD_RESPONSE,
            "TrackSaleRequest": _TRACK_SALE_BODY,
            "TrackSaleResponse": _TRACK_SALE_RESPONSE,
            "TrackClickRequest": _object({
                "domain": _str("The short link's domain."),
                "key": _str("The short link's key (the ?via= value on the landing page)."),
                "url": _nstr("The landing page's URL; recorded as the click's URL when it is http(s)."),
                "referrer": _nstr("The landing page's document.referrer; recorded as the click's referer."),
            }, required=["domain", "key"]),
            "TrackClickResponse": _object({
                "clickId": _str("The click id: keep it as the first-party dub_id cookie."),
                "link": _object({"id": _str(), "domain": _str(), "key": _str(), "url": _str()},
                                required=["id", "domain", "key", "url"], description="Our extension: the link."),
                "partner": {"type": "null", "description": "Dub's partner programs do not exist here."},
                "discount": {"type": "null", "description": "Dub's partner discounts do not exist here."},
            }, required=["clickId", "link", "partner", "discount"]),
            "Customer": _CUSTOMER,
            "CustomerUpdate": _CUSTOMER_UPDATE,
            "Click": _CLICK,
            "ClickEvent": _CLICK_EVENT,
            "LeadEvent": _LEAD_EVENT,
            "SaleEvent": _SALE_EVENT,
            **_ANALYTICS_SCHEMAS,
            "Webhook": _WEBHOOK,
            "WebhookCreate": _webhook_input(create=True),
            "WebhookUpdate": _webhook_input(create=False),
            "WebhookDelivery": _WEBHOOK_DELIVERY,
            **_WEBHOOK_EVENTS,
            **_WEBHOOK_EVENT_DATA,
            **{f"{name}Error": _error_schema(code) for code, name in _ERROR_RESPONSES.items()},
        },
        "responses": {
            name: _json(_ref(f"{name}Error"), _ERROR_TEXT[code]) for code, name in _ERROR_RESPONSES.items()
        },
        "securitySchemes": {
            "publishableKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "A publishable key (dub_pk_...) from `shortener keys create --publishable`: it may "
                               "only call POST /track/click (which also takes no key) and is meant to be seen "
                               "by browsers.",
            },
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key from `shortener keys create`, sent as Authorization: Bearer <key>. "
                               "A missing header is 401, a malformed one 400. A key created with --scope may "
                               "only call the endpoints its scopes cover (Dub's names: links.read, links.write, "
                               "analytics.read, conversions.write, customers.read/write, domains.read/write, "
                               "tags.read/write, folders.read/write, webhooks.read/write; apis.all, apis.read); "
                               "other endpoints answer 403 forbidden.",
            }
        },
    }


def _webhooks() -> Schema:
    """The payloads we POST to webhook receivers (OpenAPI 3.1's top-level `webhooks`)."""
    return {
        trigger: {
            "post": {
                "operationId": "webhook_" + trigger.replace(".", "_"),
                "summary": f"The {trigger} event",
                "description": "Signed with the webhook's secret: header Dub-Signature = HMAC-SHA256 hex of the "
                               "raw body.",
                "parameters": [{"name": "Dub-Signature", "in": "header", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": _body(_ref(_WEBHOOK_EVENT_OF[trigger])),
                "responses": {"2XX": {"description": "Any 2xx marks the delivery done; anything else is retried "
                                                     "with exponential backoff."}},
                "security": [],
            }
        }
        for trigger in WEBHOOK_TRIGGERS
    }


@functools.cache
def _document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "shortener API",
            "version": __version__,
            "description": "A self-hosted short-link redirector speaking Dub's API: the official Dub SDKs work "
                           "with server_url pointed at <host>/api. Errors are {\"error\": {\"code\", \"message\", "
                           "\"doc_url\"}} with Dub's code/status pairs.",
        },
        "servers": [{"url": "/api", "description": "This server"}],
        "security": [{"bearerToken": []}],
        "tags": [
            {"name": "Links"}, {"name": "Tags"}, {"name": "Folders"}, {"name": "Domains"}, {"name": "QR codes"}, {"name": "Track"},
            {"name": "Customers"}, {"name": "Events"}, {"name": "Webhooks"}, {"name": "Meta"},
        ],
        "paths": _paths(),
        "webhooks": _webhooks(),
        "components": _components(),
    }


def document(servers: list[dict[str, str]] | None = None) -> Schema:
    """The document; a deep copy, so a caller may change it without touching the one built once."""
    doc = copy.deepcopy(_document())
    if servers:
        doc["servers"] = servers
    return doc


@functools.lru_cache(maxsize=8)
def document_bytes(servers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The document as JSON, serialised once per distinct server list (url, description)."""
    doc = dict(_document())
    if servers:
        doc["servers"] = [{"url": url, "description": text} for url, text in servers]
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
