"""A folder (or tag) deleted between the link service's check and the link's write.

The service checks `folderId` and `tagIds` before the write, in another transaction; the store
checks again inside the write. Here the delete is made to land exactly in between (the store's
write method is wrapped so the folder or tag is deleted first), which makes the old failure (a
link pointing at no folder; a 500 from the tag's foreign key) certain instead of rare.
"""
from __future__ import annotations

import contextlib

import pytest


@contextlib.contextmanager
def deleted_before(store, method: str, delete):
    """Run `delete()` (a coroutine function) right before every call of `store.<method>`."""
    original = getattr(store, method)

    async def racing(*args, **kwargs):
        await delete()
        return await original(*args, **kwargs)

    setattr(store, method, racing)
    try:
        yield
    finally:
        setattr(store, method, original)


def _unprocessable(r, field: str) -> None:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "unprocessable_entity" and f": {field}:" in error["message"], error


def _no_dangling_folder_ids(api) -> None:
    folders = {f["id"] for f in api.get("/api/folders").json()}
    for link in api.get("/api/links?pageSize=100").json():
        assert link["folderId"] is None or link["folderId"] in folders, link


@pytest.fixture
def store(api):
    return api.app_state["core"].store


def _folder(api, name: str) -> dict:
    r = api.post("/api/folders", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


def _delete_folder(api, folder_id: str):
    async def delete():
        assert await api.app_state["core"].folders.delete(folder_id) == {"id": folder_id}
    return delete


def test_a_folder_deleted_while_a_link_is_created_in_it(api, store):
    folder = _folder(api, "Doomed")
    with deleted_before(store, "create_links", _delete_folder(api, folder["id"])):
        r = api.post("/api/links", json={"url": "https://example.com/1", "key": "one", "folderId": folder["id"]})
    _unprocessable(r, "folderId")
    assert api.get("/api/folders").json() == []
    assert api.get("/api/links/count").json() == 0  # nothing written

    folder = _folder(api, "Doomed again")
    with deleted_before(store, "create_links", _delete_folder(api, folder["id"])):
        r = api.post("/api/links/bulk", json=[{"url": "https://example.com/b1", "folderId": folder["id"]},
                                              {"url": "https://example.com/b2"}])
    assert r.status_code == 200, r.text
    refused, made = r.json()
    assert refused["code"] == "unprocessable_entity" and f"Folder {folder['id']} not found" in refused["error"]
    assert made["folderId"] is None and made["url"] == "https://example.com/b2"
    _no_dangling_folder_ids(api)


def test_a_folder_deleted_while_a_link_is_moved_into_it(api, store):
    home = _folder(api, "Home")
    doomed = _folder(api, "Doomed")
    link = api.post("/api/links", json={"url": "https://example.com/1", "folderId": home["id"]}).json()
    other = api.post("/api/links", json={"url": "https://example.com/2"}).json()

    with deleted_before(store, "update_links", _delete_folder(api, doomed["id"])):
        r = api.patch(f"/api/links/{link['id']}", json={"folderId": doomed["id"], "title": "moved"})
    _unprocessable(r, "folderId")
    after = api.get(f"/api/links/{link['id']}").json()
    assert after["folderId"] == home["id"] and after["title"] is None  # unchanged

    doomed = _folder(api, "Doomed 2")
    with deleted_before(store, "update_links", _delete_folder(api, doomed["id"])):
        r = api.patch("/api/links/bulk", json={"linkIds": [link["id"], other["id"]],
                                               "data": {"folderId": doomed["id"]}})
    _unprocessable(r, "folderId")
    assert api.get(f"/api/links/{link['id']}").json()["folderId"] == home["id"]
    assert api.get(f"/api/links/{other['id']}").json()["folderId"] is None
    _no_dangling_folder_ids(api)


def test_deleting_a_folder_moves_its_links_out_in_the_same_write(api, store):
    folder = _folder(api, "Gone")
    links = [api.post("/api/links", json={"url": f"https://example.com/{i}", "folderId": folder["id"]}).json()
             for i in range(3)]
    assert api.get(f"/api/links/count?folderId={folder['id']}").json() == 3
    # the delete and the move are one transaction: if moving the links fails, the folder stays
    original = store.run_in_transaction

    async def failing_after(fn, *args):
        def run(conn, *a):
            fn(conn, *a)
            raise RuntimeError("crash after the delete statement")
        return await original(run, *args)

    store.run_in_transaction = failing_after
    try:
        with pytest.raises(RuntimeError):
            api.portal.call(store.delete_folder, folder["id"], "2030-01-01T00:00:00.000Z")
    finally:
        store.run_in_transaction = original
    assert api.get(f"/api/folders/{folder['id']}").status_code == 200
    assert api.get(f"/api/links/count?folderId={folder['id']}").json() == 3

    assert api.delete(f"/api/folders/{folder['id']}").status_code == 200
    for link in links:
        assert api.get(f"/api/links/{link['id']}").json()["folderId"] is None
    _no_dangling_folder_ids(api)


def test_a_tag_deleted_while_a_link_is_tagged_with_it(api, store):
    tag = api.post("/api/tags", json={"name": "doomed"}).json()

    async def delete_tag():
        assert await store.delete_tag(tag["id"])

    with deleted_before(store, "create_links", delete_tag):
        r = api.post("/api/links", json={"url": "https://example.com/t", "tagIds": [tag["id"]]})
    assert r.status_code == 422 and "Invalid tagIds" in r.json()["error"]["message"], r.text
    assert api.get("/api/links/count").json() == 0

    link = api.post("/api/links", json={"url": "https://example.com/u"}).json()
    tag = api.post("/api/tags", json={"name": "doomed 2"}).json()
    with deleted_before(store, "update_links", delete_tag):
        r = api.patch(f"/api/links/{link['id']}", json={"tagIds": [tag["id"]]})
    assert r.status_code == 422 and "Invalid tagIds" in r.json()["error"]["message"], r.text
    assert api.get(f"/api/links/{link['id']}").json()["tags"] == []


def test_a_folder_deleted_while_links_are_imported_into_it(api, store):
    """`shortener import` reads the folders once, then writes in batches: a folder deleted in
    between makes its rows rejected, not links pointing at nothing."""
    from shortener.importformats import Row
    from shortener.services.imports import Importer

    folder = _folder(api, "Imported")
    rows = [Row(number=1, body={"url": "https://example.com/i1", "key": "i1", "folderId": folder["id"]}),
            Row(number=2, body={"url": "https://example.com/i2", "key": "i2"})]
    with deleted_before(store, "import_links", _delete_folder(api, folder["id"])):
        report = api.portal.call(Importer(api.app_state["core"]).run, rows)
    assert report.imported == 1
    assert report.rejected == [(1, "i1", f"Folder {folder['id']} not found.")]
    assert [l["key"] for l in api.get("/api/links").json()] == ["i2"]
    _no_dangling_folder_ids(api)
