"""Folders (Dub's /folders) over HTTP, folderId on links, and GET /domains/status."""
from __future__ import annotations


def _error(r, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code and body["error"]["doc_url"]
    return body["error"]["message"]


def test_folder_crud_with_dubs_fields_and_errors(api):
    r = api.post("/api/folders", json={"name": "Spring", "description": "campaign"})
    assert r.status_code == 201, r.text
    folder = r.json()
    assert folder["id"].startswith("fold_") and len(folder["id"]) == 30
    assert (folder["name"], folder["description"], folder["type"], folder["accessLevel"]) == (
        "Spring", "campaign", "default", "write")
    assert folder["createdAt"].endswith("Z") and folder["createdAt"] == folder["updatedAt"]

    assert "already exists" in _error(api.post("/api/folders", json={"name": "spring"}), 409, "conflict")
    assert ": name:" in _error(api.post("/api/folders", json={}), 422, "unprocessable_entity")
    assert ": name:" in _error(api.post("/api/folders", json={"name": "x" * 191}), 422, "unprocessable_entity")
    assert ": accessLevel:" in _error(api.post("/api/folders", json={"name": "a", "accessLevel": "admin"}), 422,
                                      "unprocessable_entity")
    api.post("/api/folders", json={"name": "Autumn"})
    api.post("/api/folders", json={"name": "Winter"})
    assert [f["name"] for f in api.get("/api/folders").json()] == ["Autumn", "Spring", "Winter"]
    assert [f["name"] for f in api.get("/api/folders?search=ing").json()] == ["Spring"]
    assert [f["name"] for f in api.get("/api/folders?pageSize=1&page=2").json()] == ["Spring"]
    _error(api.get("/api/folders?pageSize=51"), 422, "unprocessable_entity")

    updated = api.patch(f"/api/folders/{folder['id']}", json={"name": "Spring 2026", "accessLevel": "read",
                                                              "description": None}).json()
    assert (updated["name"], updated["accessLevel"], updated["description"]) == ("Spring 2026", "read", None)
    assert updated["updatedAt"] >= folder["updatedAt"]
    assert api.get(f"/api/folders/{folder['id']}").json() == updated
    _error(api.patch(f"/api/folders/{folder['id']}", json={"name": "autumn"}), 409, "conflict")
    assert _error(api.get("/api/folders/fold_missing"), 404, "not_found") == "Folder not found."
    _error(api.patch("/api/folders/fold_missing", json={"name": "x"}), 404, "not_found")
    _error(api.delete("/api/folders/fold_missing"), 404, "not_found")
    assert api.delete(f"/api/folders/{folder['id']}").json() == {"id": folder["id"]}
    assert [f["name"] for f in api.get("/api/folders").json()] == ["Autumn", "Winter"]


def test_links_in_folders(api):
    a = api.post("/api/folders", json={"name": "A"}).json()
    b = api.post("/api/folders", json={"name": "B"}).json()
    r = api.post("/api/links", json={"url": "https://example.com/1", "folderId": "fold_typo"})
    assert ": folderId:" in _error(r, 422, "unprocessable_entity")
    assert api.get("/api/links/count").json() == 0  # nothing was created
    in_a = [api.post("/api/links", json={"url": f"https://example.com/a{i}", "folderId": a["id"]}).json()
            for i in range(3)]
    in_b = api.post("/api/links", json={"url": "https://example.com/b", "folderId": b["id"]}).json()
    loose = api.post("/api/links", json={"url": "https://example.com/none"}).json()
    assert in_a[0]["folderId"] == a["id"] and loose["folderId"] is None

    _error(api.patch(f"/api/links/{loose['id']}", json={"folderId": "fold_typo"}), 422, "unprocessable_entity")
    _error(api.patch("/api/links/bulk", json={"linkIds": [loose["id"]], "data": {"folderId": "fold_typo"}}), 422,
           "unprocessable_entity")
    assert api.get(f"/api/links/{loose['id']}").json()["folderId"] is None

    assert {link["id"] for link in api.get(f"/api/links?folderId={a['id']}").json()} == {l["id"] for l in in_a}
    assert api.get(f"/api/links/count?folderId={a['id']}").json() == 3
    groups = {g["folderId"]: g["_count"] for g in api.get("/api/links/count?groupBy=folderId").json()}
    assert groups == {a["id"]: 3, b["id"]: 1, None: 1}

    moved = api.patch(f"/api/links/{in_b['id']}", json={"folderId": a["id"]}).json()
    assert moved["folderId"] == a["id"]
    assert api.delete(f"/api/folders/{a['id']}").status_code == 200
    after = {link["id"]: link["folderId"] for link in api.get("/api/links").json()}
    assert len(after) == 5 and set(after.values()) == {None}
    assert api.get(f"/api/links/count?folderId={a['id']}").json() == 0
    # a link still redirects after its folder is gone
    assert api.get(f"/{in_a[0]['key']}").status_code == 302


def test_domain_status(api):
    r = api.get("/api/domains/status?domains=go.test,OTHER.test,free.example")
    assert r.status_code == 200, r.text
    assert r.json() == [
        {"domain": "go.test", "available": False, "price": None, "premium": None, "prices": None},
        {"domain": "other.test", "available": False, "price": None, "premium": None, "prices": None},
        {"domain": "free.example", "available": True, "price": None, "premium": None, "prices": None},
    ]
    assert [d["domain"] for d in api.get("/api/domains/status?domains=a.test&domains=b.test").json()] == [
        "a.test", "b.test"]
    _error(api.get("/api/domains/status"), 400, "bad_request")
    assert ": domains:" in _error(api.get("/api/domains/status?domains=not_a_domain"), 422, "unprocessable_entity")
    # /domains/{slug} still takes the other methods
    assert api.patch("/api/domains/other.test", json={"placeholder": "https://example.com/p"}).status_code == 200
