"""The unmodified official Dub Python SDK against a real server on loopback.

One server per test (starting one costs about a second), so each test walks a whole area: unlike
test_sdk_track and test_sdk_folders these tests check whole-workspace lists and counts (every
link, tag and domain), which need an empty database each.
"""
from __future__ import annotations

import pytest
from dub import Dub
from dub.models import errors


def test_links_through_the_sdk(server, dub):
    domain = f"127.0.0.1:{server.port}"

    bare = dub.links.create(request={"url": "https://example.com/bare"})
    assert bare.id.startswith("link_") and len(bare.key) == 7 and bare.domain == domain
    assert bare.url == "https://example.com/bare"
    assert bare.short_link == f"http://{domain}/{bare.key}"
    assert bare.qr_code == f"http://{domain}/api/qr?url={bare.short_link}?qr=1"
    assert bare.password is None and bare.tags == [] and bare.clicks == 0 and bare.archived is False

    full = dub.links.create(request={
        "url": "https://example.com/full?x=1",
        "key": "full",
        "external_id": "sdk-1",
        "tenant_id": "tenant-9",
        "track_conversion": True,
        "archived": False,
        "tag_names": ["sdk", "Launch"],
        "comments": "made by the SDK",
        "expires_at": "2031-05-06T07:08:09.000Z",
        "expired_url": "https://example.com/expired",
        "password": "hunter2",
        "proxy": True,
        "title": "Title",
        "description": "Description",
        "image": "https://example.com/i.png",
        "video": "https://example.com/v.mp4",
        "rewrite": False,
        "ios": "https://apps.apple.com/app/id1",
        "android": "https://play.google.com/store/apps/details?id=x",
        "geo": {"DE": "https://example.de"},
        "do_index": True,
        "utm_source": "sdk",
        "utm_medium": "test",
        "utm_campaign": "c",
        "utm_term": "t",
        "utm_content": "co",
        "ref": "r",
    })
    assert full.key == "full" and full.external_id == "sdk-1" and full.tenant_id == "tenant-9"
    assert full.url == ("https://example.com/full?x=1&utm_source=sdk&utm_medium=test&utm_campaign=c"
                        "&utm_term=t&utm_content=co&ref=r")
    assert (full.utm_source, full.utm_medium, full.utm_campaign, full.utm_term, full.utm_content) == (
        "sdk", "test", "c", "t", "co")
    assert sorted(t.name for t in full.tags) == ["Launch", "sdk"]
    assert full.expires_at == "2031-05-06T07:08:09.000Z" and full.password is None
    assert full.track_conversion is True and full.proxy is True and full.do_index is True
    assert full.geo == {"DE": "https://example.de"} and full.comments == "made by the SDK"

    # get by id, by ext_, by domain+key
    assert dub.links.get(request={"link_id": full.id}).id == full.id
    assert dub.links.get(request={"external_id": "ext_sdk-1"}).id == full.id
    assert dub.links.get(request={"domain": domain, "key": "FULL"}).id == full.id

    # list and count
    listed = dub.links.list(request={})
    assert [l.id for l in listed.result] == [full.id, bare.id]
    tagged = dub.links.list(request={"tag_names": ["sdk"]})
    assert [l.id for l in tagged.result] == [full.id]
    assert dub.links.list(request={"search": "bare"}).result[0].id == bare.id
    assert dub.links.count(request={}) == 2
    assert dub.links.count(request={"domain": domain, "tag_names": ["launch"]}) == 1

    # update
    updated = dub.links.update(link_id=full.id, request_body={"title": "New title", "password": None,
                                                              "tag_names": ["sdk"]})
    assert updated.title == "New title" and [t.name for t in updated.tags] == ["sdk"]
    assert dub.links.update(link_id="ext_sdk-1", request_body={"archived": True}).archived is True

    # upsert: same URL updates, a new URL creates
    same = dub.links.upsert(request={"url": bare.url, "comments": "upserted"})
    assert same.id == bare.id and same.comments == "upserted"
    fresh = dub.links.upsert(request={"url": "https://example.com/upserted", "key": "ups"})
    assert fresh.id not in (bare.id, full.id) and fresh.key == "ups"

    # bulk create, update, delete
    made = dub.links.create_many(request=[
        {"url": "https://example.com/b1", "key": "b1"},
        {"url": "https://example.com/b2", "key": "b2", "tag_names": ["bulk"]},
        {"url": "https://example.com/b3", "key": "b1"},
    ])
    assert [getattr(m, "key", None) for m in made[:2]] == ["b1", "b2"]
    assert made[2].code.value == "conflict" and made[2].error == "Duplicate key: This short link already exists."
    ids = [made[0].id, made[1].id]
    changed = dub.links.update_many(request={"link_ids": ids, "data": {"utm_campaign": "bulk"}})
    assert sorted(l.url for l in changed) == ["https://example.com/b1?utm_campaign=bulk",
                                              "https://example.com/b2?utm_campaign=bulk"]
    assert dub.links.delete_many(request={"link_ids": ids}).deleted_count == 2

    # delete
    assert dub.links.delete(link_id=fresh.id).id == fresh.id
    with pytest.raises(errors.NotFound):
        dub.links.get(request={"link_id": fresh.id})
    assert dub.links.count(request={"show_archived": True}) == 2


def test_tags_and_domains_through_the_sdk(dub, server):
    tag = dub.tags.create(request={"name": "Spring", "color": "green"})
    assert tag.name == "Spring" and tag.color.value == "green"
    assert [t.name for t in dub.tags.list(request={})] == ["Spring"]
    renamed = dub.tags.update(id=tag.id, request_body={"name": "Summer", "color": "red"})
    assert renamed.name == "Summer" and renamed.color.value == "red"
    link = dub.links.create(request={"url": "https://example.com", "tag_ids": [tag.id]})
    assert [t.id for t in link.tags] == [tag.id]
    assert dub.tags.delete(id=tag.id).id == tag.id
    assert dub.tags.list(request={}) == []

    created = dub.domains.create(request={"slug": "go.example.com", "not_found_url": "https://example.com/404",
                                          "expired_url": "https://example.com/gone"})
    assert created.slug == "go.example.com" and created.not_found_url == "https://example.com/404"
    slugs = [d.slug for d in dub.domains.list(request={}).result]
    assert slugs == [f"127.0.0.1:{server.port}", "go.example.com"]
    assert dub.domains.list(request={}).result[0].primary is True
    updated = dub.domains.update(slug="go.example.com", request_body={"placeholder": "https://example.com/p"})
    assert updated.placeholder == "https://example.com/p"
    on_domain = dub.links.create(request={"url": "https://example.com/x", "domain": "go.example.com"})
    assert dub.domains.delete(slug="go.example.com").slug == "go.example.com"
    with pytest.raises(errors.NotFound):
        dub.links.get(request={"link_id": on_domain.id})
    with pytest.raises(errors.Forbidden):
        dub.domains.delete(slug=f"127.0.0.1:{server.port}")


def test_sdk_typed_errors(dub, server):
    dub.links.create(request={"url": "https://example.com", "key": "dup", "external_id": "dup-ext"})
    with pytest.raises(errors.Conflict) as conflict:
        dub.links.create(request={"url": "https://example.com", "key": "DUP"})
    assert conflict.value.data.error.message == "Duplicate key: This short link already exists."
    with pytest.raises(errors.Conflict):
        dub.links.create(request={"url": "https://example.com", "external_id": "dup-ext"})
    with pytest.raises(errors.UnprocessableEntity):
        dub.links.create(request={"url": "javascript:alert(1)"})
    with pytest.raises(errors.NotFound):
        dub.links.get(request={"link_id": "link_missing"})
    with pytest.raises(errors.Unauthorized):
        Dub(token="dub_wrong", server_url=server.api_url).links.list(request={})
    with pytest.raises(errors.BadRequest):
        dub.links.get(request={"external_id": "not-prefixed"})
    assert dub.links.count(request={}) == 1
