"""The official Dub Python SDK against a real server: QR codes, folders, domain status, A/B links."""
from __future__ import annotations

import io

import httpx
import pytest
import zxingcpp
from dub import Dub
from dub.models import errors
from PIL import Image


@pytest.fixture(scope="module")
def server(module_server):
    """One server for the module: each test works on its own folders and links."""
    return module_server


def _decode_qr(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [b.format for b in found] == [zxingcpp.BarcodeFormat.QRCode], found
    return found[0].text


def test_qr_codes_get_through_the_sdk_draws_the_short_link(server, dub):
    """The SDK sends size=600.0&margin=2.0 (floats) and hands the PNG back as text, which loses
    bytes: the bytes it received are read off its own HTTP client, then decoded as a QR code."""
    link = dub.links.create(request={"url": "https://example.com/qr-target"})
    received: list[bytes] = []

    def keep_qr(response: httpx.Response) -> None:
        if response.url.path.endswith("/qr"):
            received.append(response.read())

    with httpx.Client(event_hooks={"response": [keep_qr]}) as client:
        sdk = Dub(token=server.key, server_url=server.api_url, client=client)
        text = sdk.qr_codes.get(request={"url": link.short_link})
        assert text[1:4] == "PNG"
        assert _decode_qr(received[-1]) == link.short_link
        # the link's own qrCode URL (Dub's ?qr=1 form), with every option the SDK has
        sdk.qr_codes.get(request={"url": f"{link.short_link}?qr=1", "size": 300, "margin": 4, "level": "H",
                                  "fg_color": "#112233", "bg_color": "#FFFFFF", "hide_logo": True})
        assert _decode_qr(received[-1]) == f"{link.short_link}?qr=1"
    assert len(received) == 2 and all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in received)
    # what the code says is the short link: scanning it leads to the destination
    scanned = httpx.get(_decode_qr(received[0]), headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})
    assert scanned.status_code == 302 and scanned.headers["location"] == "https://example.com/qr-target"


def test_folders_and_domain_status_through_the_sdk(server, dub):
    domain = f"127.0.0.1:{server.port}"
    folder = dub.folders.create(request={"name": "Launch", "description": "for the launch"})
    assert folder.id.startswith("fold_") and folder.name == "Launch" and folder.description == "for the launch"
    assert folder.type.value == "default" and folder.access_level.value == "write"
    other = dub.folders.create(request={"name": "Archive", "access_level": "read"})
    assert other.access_level.value == "read"

    listed = dub.folders.list(request={})
    assert [f.name for f in listed] == ["Archive", "Launch"]
    assert [f.name for f in dub.folders.list(request={"search": "laun"})] == ["Launch"]
    assert [f.name for f in dub.folders.list(request={"page": 2, "page_size": 1})] == ["Launch"]

    renamed = dub.folders.update(id=folder.id, request_body={"name": "Launch 2026"})
    assert renamed.id == folder.id and renamed.name == "Launch 2026"
    with pytest.raises(errors.Conflict):
        dub.folders.create(request={"name": "archive"})

    link = dub.links.create(request={"url": "https://example.com/f", "folder_id": folder.id})
    assert link.folder_id == folder.id
    with pytest.raises(errors.UnprocessableEntity):
        dub.links.create(request={"url": "https://example.com/g", "folder_id": "fold_nope"})
    assert [l.id for l in dub.links.list(request={"folder_id": folder.id}).result] == [link.id]

    assert dub.folders.delete(id=folder.id).id == folder.id
    assert dub.links.get(request={"link_id": link.id}).folder_id is None
    with pytest.raises(errors.NotFound):
        dub.folders.delete(id=folder.id)

    status = dub.domains.check_status(request={"domains": [domain, "unused.example"]})
    assert [(s.domain, s.available, s.premium, s.prices) for s in status] == [
        (domain, False, None, None), ("unused.example", True, None, None)]
    single = dub.domains.check_status(request={"domains": "unused.example"})
    assert single[0].available is True


def test_links_with_test_variants_through_the_sdk(server, dub):
    variants = [{"url": "https://example.com/one", "percentage": 60},
                {"url": "https://example.com/two", "percentage": 40}]
    link = dub.links.create(request={"url": "https://example.com/one", "test_variants": variants,
                                     "test_started_at": "2026-01-01T00:00:00.000Z",
                                     "test_completed_at": "2031-01-01T00:00:00.000Z"})
    assert [(v.url, v.percentage) for v in link.test_variants] == [("https://example.com/one", 60),
                                                                   ("https://example.com/two", 40)]
    assert link.test_started_at == "2026-01-01T00:00:00.000Z"
    assert link.test_completed_at == "2031-01-01T00:00:00.000Z"
    fetched = dub.links.get(request={"link_id": link.id})
    assert [v.url for v in fetched.test_variants] == ["https://example.com/one", "https://example.com/two"]
    with pytest.raises(errors.UnprocessableEntity):
        dub.links.update(link_id=link.id, request_body={"test_variants": [
            {"url": "https://example.com/one", "percentage": 60}, {"url": "https://example.com/two", "percentage": 30}]})
    changed = dub.links.update(link_id=link.id, request_body={"test_variants": [
        {"url": "https://example.com/one", "percentage": 50}, {"url": "https://example.com/three", "percentage": 50}]})
    assert [v.url for v in changed.test_variants] == ["https://example.com/one", "https://example.com/three"]
    # the variants are what the short link serves
    import httpx

    r = httpx.get(link.short_link, headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})
    assert r.status_code == 302 and r.headers["location"] in ("https://example.com/one", "https://example.com/three")
    cleared = dub.links.update(link_id=link.id, request_body={"test_variants": None})
    assert cleared.test_variants is None and cleared.test_completed_at is None
