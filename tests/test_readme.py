"""The README's "First steps" run as written, against a live server on a free port.

Only two things are substituted: the port (8000 -> the test server's) and the placeholder
destination `https://www.your-site.test/...` (-> a loopback URL), so nothing leaves the machine.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S)]


def test_first_steps_blocks_are_shell_then_python():
    blocks = fenced_blocks(section("First steps"))
    assert [lang for lang, _ in blocks] == ["sh", "python"]
    assert "127.0.0.1:8000" in blocks[0][1] and "example.com" not in section("First steps")


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A folder laid out like the README assumes: `.venv/bin/shortener` and `./data`."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    wrapper = bin_dir / "shortener"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m shortener "$@"\n')
    wrapper.chmod(0o755)
    return tmp_path


def test_first_steps_run_verbatim(workdir):
    from conftest import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHORTENER_")}
    env.update({"PYTHONPATH": str(ROOT), "SHORTENER_SQLITE_SYNCHRONOUS": "normal"})
    # "Two commands": `.venv/bin/shortener serve`, here on a free port (no SHORTENER_DOMAIN:
    # the default domain is the address served).
    log = open(workdir / "server.log", "wb")
    server = subprocess.Popen([str(workdir / ".venv/bin/shortener"), "serve", "--port", str(port)],
                              cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"

        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/_/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, (workdir / "server.log").read_text()
            time.sleep(0.1)

        def local(code: str) -> str:
            code = code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            return re.sub(r"https://www\.your-site\.test/(\w+)", rf"{base}/_/health?page=\1", code)

        shell, python = [local(code) for _, code in fenced_blocks(section("First steps"))]
        script = (f"set -euo pipefail\n{shell}\n"
                  f"echo \"CLICK_ID=$CLICK_ID\"\n"
                  f"\"{sys.executable}\" - <<'PYTHON'\n{python}\nPYTHON\n")
        r = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout
        # The link was created, the browser-like visit was redirected and got its cookie.
        assert f'"shortLink":"http://127.0.0.1:{port}/hello"' in out
        assert "HTTP/1.1 302" in out and f"location: {base}/_/health?page=welcome" in out.lower()
        click_id = re.search(r"^CLICK_ID=([0-9A-Za-z]{16})$", out, re.M)
        assert click_id, out
        assert re.search(r"set-cookie: dub_id=" + click_id.group(1), out, re.I)
        # `shortener links list` showed the link with its click (a table with a header).
        assert re.search(rf"^ID\s+SHORT LINK\s+DESTINATION\s+CLICKS", out, re.M)
        # The Python snippet: a second link, then the lead on the visitor's click.
        assert f"http://127.0.0.1:{port}/docs link_" in out
        assert f"lead on http://127.0.0.1:{port}/hello" in out
        open_the_dashboard(workdir, env, port)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    # After a clean stop every count is on disk: one click, one lead, one sale on /hello.
    r = subprocess.run([str(workdir / ".venv/bin/shortener"), "links", "get", "--domain", f"127.0.0.1:{port}",
                        "--key", "hello", "--json"], cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    link = json.loads(r.stdout)
    assert (link["clicks"], link["leads"], link["sales"], link["saleAmount"]) == (1, 1, 1, 4900)


def open_the_dashboard(workdir: Path, env: dict, port: int) -> None:
    """The First steps' last paragraph: an owner made with its `users create` command (the
    password on stdin, as a script would give it), then its URL, where the sign-in leads to the
    links above with their clicks, and to the customer and the sale."""
    text = section("First steps").split("**The dashboard**", 1)[1]
    command = re.search(r"`(\.venv/bin/shortener users create [^`]+)`", text).group(1)
    url = re.search(r"open (http://127\.0\.0\.1:8000/_/)", text).group(1).replace(":8000", f":{port}")
    email = command.rsplit(" ", 1)[1]
    r = subprocess.run(command.split(), input="first steps password\n", cwd=workdir, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        form = browser.get(url)
        assert "/_/signin" in str(form.url)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        links = browser.post(form.url, data={"csrf": token, "email": email, "password": "first steps password"},
                             headers={"origin": f"http://127.0.0.1:{port}"})
        assert str(links.url).endswith("/_/links"), links.text[:500]
        assert re.search(r'/hello</a>.*?data-label="Clicks"[^>]*>1<', links.text, re.S)
        assert "/docs</a>" in links.text
        customers = browser.get(f"http://127.0.0.1:{port}/_/customers").text
        assert "ada@your-site.test" in customers and "user-42" in customers and "49.00" in customers
