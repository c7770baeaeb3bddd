"""`shortener export` and `shortener import` from our own export and from Dub's, Shlink's, YOURLS'
and Kutt's export formats (sample files written here, in each project's documented shape)."""
from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess

import pytest
from starlette.testclient import TestClient

from shortener import importformats
from shortener.config import Settings
from shortener.web.app import create_app

DOMAIN = "go.test"


@pytest.fixture
def cli(tmp_path, shortener_cli):
    """Run the CLI on one data folder (domain go.test plus dub.sh, s.test and kutt.it)."""
    shortener = shortener_cli(tmp_path / "data", SHORTENER_DOMAIN=DOMAIN,
                              SHORTENER_EXTRA_DOMAINS="dub.sh,s.test,kutt.it", SHORTENER_SQLITE_SYNCHRONOUS="normal")

    def run(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        r = shortener(*args, stdin=stdin)
        if check and r.returncode != 0:
            raise AssertionError(f"{args}: {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    run("init")
    return run


def links(cli) -> dict[str, dict]:
    out = cli("links", "list", "--archived", "--limit", "1000", "--json").stdout
    return {f"{link['domain']}/{link['key']}": link for link in json.loads(out)}


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_dub_links_csv(cli, tmp_path):
    # Dub's export: the labels of its export dialog, tags joined with ", ", sale amounts in dollars
    rows = [
        ["Link ID", "Short link", "Destination URL", "Title", "Clicks", "Leads", "Sales", "Sale amount",
         "Created at", "Updated at", "Tags", "Archived"],
        ["clx1", "https://dub.sh/launch", "https://example.com/launch?utm_source=x", "Launch", "1234", "12",
         "3", "149.97", "2024-03-01T10:00:00.000Z", "2024-03-02T10:00:00.000Z", "news, q1", "false"],
        ["clx2", "https://dub.sh/old-promo", "https://example.com/promo", "", "7", "0", "0", "0",
         "2023-01-05T08:00:00.000Z", "2023-01-05T08:00:00.000Z", "", "true"],
        ["clx3", "https://dub.sh/bad", "javascript:alert(1)", "", "0", "", "", "", "", "", "", "false"],
        ["clx4", "https://elsewhere.example/x", "https://example.com/x", "", "1", "", "", "", "", "", "", ""],
    ]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    r = cli("import", write(tmp_path, "dub.csv", buf.getvalue()), "--format", "dub", check=False)
    assert r.returncode == 1
    assert "imported 2 of 4 links" in r.stderr
    assert "rejected row 4 (bad):" in r.stderr and "url" in r.stderr.split("rejected row 4", 1)[1].splitlines()[0]
    assert "rejected row 5 (x): the domain 'elsewhere.example' is not configured here" in r.stderr
    got = links(cli)
    launch = got["dub.sh/launch"]
    assert launch["url"] == "https://example.com/launch?utm_source=x" and launch["utm_source"] == "x"
    assert (launch["clicks"], launch["leads"], launch["sales"], launch["saleAmount"]) == (1234, 12, 3, 14997)
    assert launch["title"] == "Launch" and launch["createdAt"] == "2024-03-01T10:00:00.000Z"
    assert sorted(t["name"] for t in launch["tags"]) == ["news", "q1"]
    assert got["dub.sh/old-promo"]["archived"] is True and got["dub.sh/old-promo"]["clicks"] == 7


def test_import_onto_another_domain(cli, tmp_path):
    text = "Short link,Destination URL,Clicks\nhttps://dub.sh/moved,https://example.com/moved,5\n"
    cli("import", write(tmp_path, "dub.csv", text), "--format", "dub", "--domain", DOMAIN)
    link = links(cli)[f"{DOMAIN}/moved"]
    assert link["clicks"] == 5 and link["shortLink"] == "http://go.test/moved"


def test_shlink_csv(cli, tmp_path):
    # shlink-web-client's export: createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits
    text = (
        "createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits\n"
        "2022-05-01T12:00:00+02:00,s.test,abc123,https://s.test/abc123,https://example.com/a,Hello,one|two,42\n"
        ",,Case,https://s.test/Case,https://example.com/c,,,3\n"
        "2022-05-01T12:00:00+02:00,s.test,ABC123,https://s.test/ABC123,https://example.com/dup,,,1\n"
        "2022-05-01T12:00:00+02:00,s.test,api,https://s.test/api,https://example.com/api,,,1\n"
    )
    r = cli("import", write(tmp_path, "shlink.csv", text), "--format", "shlink", check=False)
    assert "imported 2 of 4 links" in r.stderr
    assert "rejected row 4 (ABC123): Duplicate key" in r.stderr  # keys are unique ignoring case
    assert "rejected row 5 (api):" in r.stderr  # a reserved key, as through the API
    got = links(cli)
    a = got["s.test/abc123"]
    assert a["clicks"] == 42 and a["title"] == "Hello" and a["createdAt"] == "2022-05-01T10:00:00.000Z"
    assert sorted(t["name"] for t in a["tags"]) == ["one", "two"]
    assert got["s.test/Case"]["clicks"] == 3


YOURLS_SQL = """-- MySQL dump 10.13
DROP TABLE IF EXISTS `yourls_url`;
CREATE TABLE `yourls_url` (
  `keyword` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `url` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `title` text CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  `timestamp` timestamp NOT NULL DEFAULT current_timestamp(),
  `ip` varchar(41) NOT NULL,
  `clicks` int(10) unsigned NOT NULL,
  PRIMARY KEY (`keyword`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
LOCK TABLES `yourls_url` WRITE;
INSERT INTO `yourls_url` VALUES ('ozh','http://ozh.org/','ozh.org \\\\ \\'quoted\\', (paren)','2023-04-05 06:07:08','127.0.0.1',15),('yourlsorg','https://yourls.org/','YOURLS: Your Own URL Shortener','2023-04-05 06:07:09','127.0.0.1',0);
INSERT INTO `yourls_options` VALUES (1,'version','1.9.2','yes');
INSERT INTO `yourls_url` (`keyword`, `url`, `title`, `timestamp`, `ip`, `clicks`) VALUES
('it''s', 'https://example.com/it', NULL, '2023-04-06 00:00:00', '::1', 2),
('bad', 'data:text/html,x', 'nope', '2023-04-06 00:00:00', '::1', 2);
UNLOCK TABLES;
"""


def test_yourls_sql_dump(cli, tmp_path):
    r = cli("import", write(tmp_path, "yourls.sql", YOURLS_SQL), "--format", "yourls", check=False)
    assert "imported 2 of 4 links" in r.stderr, r.stderr
    assert "(it's):" in r.stderr and "(bad):" in r.stderr
    got = links(cli)
    ozh = got[f"{DOMAIN}/ozh"]
    assert ozh["clicks"] == 15 and ozh["title"] == "ozh.org \\ 'quoted', (paren)"
    assert ozh["createdAt"] == "2023-04-05T06:07:08.000Z"
    assert got[f"{DOMAIN}/yourlsorg"]["url"] == "https://yourls.org/"


def test_yourls_csv_with_and_without_header(cli, tmp_path):
    with_header = "keyword,url,title,timestamp,ip,clicks\nfirst,https://example.com/1,One,2023-01-01 00:00:00,1.2.3.4,9\n"
    bare = "second,https://example.com/2,Two,2023-01-01 00:00:00,1.2.3.4,4\n"
    cli("import", write(tmp_path, "a.csv", with_header), "--format", "yourls")
    cli("import", write(tmp_path, "b.csv", bare), "--format", "yourls")
    got = links(cli)
    assert got[f"{DOMAIN}/first"]["clicks"] == 9 and got[f"{DOMAIN}/second"]["clicks"] == 4


def test_kutt_api_listing(cli, tmp_path):
    listing = {"limit": 10, "skip": 0, "total": 4, "data": [
        {"id": "5f0f", "address": "docs", "banned": False, "created_at": "2024-02-02T02:02:02.000Z",
         "updated_at": "2024-02-02T02:02:02.000Z", "description": "team docs", "expire_in": None,
         "password": False, "target": "https://example.com/docs", "visit_count": 321, "domain": None,
         "link": "https://kutt.it/docs"},
        {"id": "6a1b", "address": "secret", "banned": False, "password": True, "target": "https://example.com/s",
         "visit_count": 1, "domain": None, "link": "https://kutt.it/secret"},
        {"id": "7c2d", "address": "spam", "banned": True, "password": False, "target": "https://example.com/b",
         "visit_count": 0, "domain": None, "link": "https://kutt.it/spam"},
        {"id": "8d3e", "address": "mine", "banned": False, "password": False, "target": "https://example.com/m",
         "visit_count": 2, "domain": "s.test", "link": "https://s.test/mine",
         "expire_in": "2099-01-01T00:00:00.000Z"},
    ]}
    r = cli("import", write(tmp_path, "kutt.json", json.dumps(listing)), "--format", "kutt", "--json", check=False)
    assert "imported 2 of 4 links" in r.stderr
    outcome = json.loads(r.stdout)
    assert outcome["imported"] == 2 and outcome["total"] == 4
    assert [x["row"] for x in outcome["rejected"]] == [2, 3]
    assert "rejected row 2: password-protected in Kutt" in r.stderr
    assert "rejected row 3: banned in Kutt" in r.stderr
    got = links(cli)
    assert got["kutt.it/docs"]["clicks"] == 321 and got["kutt.it/docs"]["comments"] == "team docs"
    assert got["s.test/mine"]["expiresAt"] == "2099-01-01T00:00:00.000Z"


def test_our_export_round_trips_through_import(cli, tmp_path):
    cli("links", "create", "https://example.com/one", "--key", "one", "--tag", "alpha", "--password", "pw-123")
    cli("links", "create", "https://example.com/two", "--key", "two", "--external-id", "ext-2")
    jsonl = tmp_path / "export.jsonl"
    cli("export", "--output", str(jsonl))
    assert stat.S_IMODE(os.stat(jsonl).st_mode) == 0o600
    exported = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert {o["key"] for o in exported} == {"one", "two"}
    csv_text = cli("export", "--format", "csv").stdout
    assert csv_text.splitlines()[0].startswith("id,domain,key,url,shortLink")

    before = links(cli)
    for fmt_file, text in (("again.jsonl", jsonl.read_text()), ("again.csv", csv_text)):
        cli("links", "delete", *(link["id"] for link in before.values()))
        r = cli("import", write(tmp_path, fmt_file, text), "--format", "ours", "--quiet")
        assert "imported 2 of 2 links" in r.stderr, r.stderr
        after = links(cli)
        for name in ("one", "two"):
            a, b = before[f"{DOMAIN}/{name}"], after[f"{DOMAIN}/{name}"]
            for field in ("id", "url", "externalId", "passwordProtected", "createdAt", "clicks", "tags"):
                assert a[field] == b[field], (fmt_file, field)
    # importing the same file again changes nothing and says why
    r = cli("import", str(jsonl), "--format", "ours", check=False)
    assert r.returncode == 1 and r.stderr.count("Duplicate key") == 2


def test_password_survives_the_round_trip(cli, tmp_path):
    cli("links", "create", "https://example.com/p", "--key", "locked", "--password", "open-sesame")
    export = cli("export").stdout
    cli("links", "delete", json.loads(export)["id"])
    r = cli("import", "-", "--format", "ours", "--quiet", stdin=export)
    assert "imported 1 of 1" in r.stderr, r.stderr
    settings = Settings(data_dir=str(tmp_path / "data"), domain=DOMAIN)
    with TestClient(create_app(settings), base_url=f"http://{DOMAIN}", follow_redirects=False) as c:
        assert c.get("/locked").status_code == 200  # the password form, not a redirect
        assert c.get("/locked", params={"pw": "wrong"}).status_code == 403
        assert c.get("/locked", params={"pw": "open-sesame"}).status_code == 302


def test_unreadable_rows_are_reported_not_fatal():
    rows = list(importformats.read("ours", '{"key": "a", "url": "https://e.com", "clicks": 1}\nnot json\n'))
    assert rows[0].error is None and rows[1].error.startswith("unreadable line")
    rows = list(importformats.read("dub", "Title\nx\n"))
    assert rows[0].error.startswith("not a Dub links export")
    rows = list(importformats.read("shlink", "createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits\n"
                                            ",,k,,https://e.com,,,-3\n"))
    assert rows[0].error == "visits is negative"


def test_a_row_with_a_counter_too_large_is_rejected_alone(cli, tmp_path):
    """A counter past 2**53 - 1 (or past SQLite's integers: it was an OverflowError that lost the
    whole batch) rejects its row, and the other rows of the file are imported."""
    lines = [
        {"key": "ok", "url": "https://example.com/ok", "clicks": 5},
        {"key": "huge", "url": "https://example.com/h", "clicks": 99999999999999999999999},
        {"key": "edge", "url": "https://example.com/e", "leads": 2**63 - 1},
        {"key": "money", "url": "https://example.com/m", "saleAmount": 2**53},
        {"key": "max", "url": "https://example.com/x", "sales": 2**53 - 1},
    ]
    path = write(tmp_path, "big.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    r = cli("import", path, "--format", "ours", "--json", check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    outcome = json.loads(r.stdout)
    assert outcome["imported"] == 2
    assert {x["row"]: x["reason"] for x in outcome["rejected"]} == {
        2: "clicks is too large (at most 9,007,199,254,740,991)",
        3: "leads is too large (at most 9,007,199,254,740,991)",
        4: "saleAmount is too large (at most 9,007,199,254,740,991)",
    }
    got = links(cli)
    assert got["go.test/ok"]["clicks"] == 5 and got["go.test/max"]["sales"] == 2**53 - 1
    dub = write(tmp_path, "dub.csv", "Short link,Destination URL,Clicks\n"
                                     "https://dub.sh/a,https://example.com/a,99999999999999999999999\n"
                                     "https://dub.sh/b,https://example.com/b,3\n")
    r = cli("import", dub, "--format", "dub", check=False)
    assert "imported 1 of 2 links" in r.stderr and "clicks is too large" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("text, cents", [
    ("12.34", 1234), ("$1,234.50", 123450), ("USD 12", 1200), ("12.5 EUR", 1250), ("0", 0), ("€7", 700),
    ("12abc", None), ("1e300", None), ("1.2.3", None), ("12.345", None), ("1,23", None), ("-5", None),
])
def test_dub_sale_amounts_are_read_strictly(text, cents):
    rows = list(importformats.read("dub", "Short link,Destination URL,Sale amount\n"
                                          f'https://dub.sh/a,https://example.com/a,"{text}"\n'))
    if cents is None:
        assert rows[0].error is not None and "sale amount" in rows[0].error
    else:
        assert rows[0].error is None and rows[0].counters["sale_amount"] == cents


def test_our_files_in_other_shapes(cli, tmp_path):
    good = {"key": "g1", "url": "https://example.com/g1"}
    # A first line that is not an object: its row is refused, the rows after it still read.
    path = write(tmp_path, "odd.jsonl", "[1,2]\n" + json.dumps(good) + "\n")
    r = cli("import", path, "--format", "ours", "--json", check=False)
    outcome = json.loads(r.stdout)
    assert outcome["imported"] == 1
    assert [(x["row"], x["reason"]) for x in outcome["rejected"]] == [(1, "unreadable line: not a JSON object")]
    # A JSON array of link objects.
    path = write(tmp_path, "array.json", json.dumps([{"key": "g2", "url": "https://example.com/g2"}, 7]))
    r = cli("import", path, "--format", "ours", "--json", check=False)
    outcome = json.loads(r.stdout)
    assert outcome["imported"] == 1 and [x["row"] for x in outcome["rejected"]] == [2]
    # Kutt: a file of one JSON line.
    path = write(tmp_path, "one.jsonl", '{"address":"k3kutt","target":"https://example.com/k","visit_count":3}\n')
    r = cli("import", path, "--format", "kutt", "--domain", DOMAIN)
    assert "imported 1 of 1 links" in r.stderr
    assert links(cli)["go.test/k3kutt"]["clicks"] == 3


def test_folders_and_ab_tests_survive_export_and_import_elsewhere(tmp_path, shortener_cli):
    def data_dir(name):
        run = shortener_cli(tmp_path / name, SHORTENER_DOMAIN=DOMAIN, SHORTENER_SQLITE_SYNCHRONOUS="normal")

        def call(*args, stdin=None):
            r = run(*args, stdin=stdin)
            assert r.returncode == 0, (args, r.stderr)
            return r

        call("init")
        return call

    source = data_dir("source")
    folder = json.loads(source("folders", "create", "Launch", "--json").stdout)
    source("links", "create", "https://example.com/f", "--key", "in-folder", "--folder-id", folder["id"])
    variants = [{"url": "https://example.com/a", "percentage": 60}, {"url": "https://example.com/b", "percentage": 40}]
    ab = {"key": "ab", "url": "https://example.com/a", "testVariants": variants,
          "testStartedAt": "2026-11-01T00:00:00.000Z", "testCompletedAt": "2030-01-01T00:00:00.000Z"}
    source("import", "-", "--format", "ours", stdin=json.dumps(ab) + "\n")
    exported = source("export").stdout
    by_key = {o["key"]: o for o in map(json.loads, exported.splitlines())}
    assert by_key["in-folder"]["folderName"] == "Launch" and "folderName" not in by_key["ab"]
    csv_text = source("export", "--format", "csv").stdout
    assert {"folderName", "testVariants", "testStartedAt", "testCompletedAt"} <= set(csv_text.splitlines()[0].split(","))

    for name, text in (("from-jsonl", exported), ("from-csv", csv_text)):
        target = data_dir(name)
        r = target("import", "-", "--format", "ours", stdin=text)
        assert "imported 2 of 2 links" in r.stderr, r.stderr
        got = {link["key"]: link for link in json.loads(target("links", "list", "--json").stdout)}
        [made] = json.loads(target("folders", "list", "--json").stdout)
        assert made["name"] == "Launch" and got["in-folder"]["folderId"] == made["id"]
        assert got["ab"]["testVariants"] == variants
        assert got["ab"]["testStartedAt"] == "2026-11-01T00:00:00.000Z"
        assert got["ab"]["testCompletedAt"] == "2030-01-01T00:00:00.000Z"
        # a second import finds the folder by name instead of making another
        target("links", "delete", got["in-folder"]["id"], got["ab"]["id"])
        target("import", "-", "--format", "ours", stdin=text)
        assert len(json.loads(target("folders", "list", "--json").stdout)) == 1


def test_a_crafted_password_hash_is_refused(cli, tmp_path):
    """The hash's parameters set each guess's cost: p=40 took two seconds of CPU per attempt."""
    from shortener.passwords import hash_password

    good = hash_password("open-sesame")
    _, n, r, p, salt, digest = good.split("$")
    rows = [
        {"key": "ours", "url": "https://example.com/1", "passwordHash": good},
        {"key": "p40", "url": "https://example.com/2", "passwordHash": f"scrypt${n}${r}$40${salt}${digest}"},
        {"key": "n2e20", "url": "https://example.com/3", "passwordHash": f"scrypt${2**20}${r}${p}${salt}${digest}"},
        {"key": "junk", "url": "https://example.com/4", "passwordHash": "not a hash"},
    ]
    path = write(tmp_path, "hashes.jsonl", "\n".join(json.dumps(x) for x in rows) + "\n")
    r = cli("import", path, "--format", "ours", "--json", check=False)
    outcome = json.loads(r.stdout)
    assert outcome["imported"] == 1 and [x["row"] for x in outcome["rejected"]] == [2, 3, 4]
    assert all("passwordHash" in x["reason"] for x in outcome["rejected"])
    assert links(cli)["go.test/ours"]["passwordProtected"] is True


def test_import_holds_text_to_the_apis_rule(cli, tmp_path):
    """A lone surrogate (a JSON escape) failed the whole batch with a traceback; a NUL was stored
    although the API refuses it. Each now rejects its row only."""
    lines = [
        '{"key": "ok1", "url": "https://example.com/1"}',
        '{"key": "sur", "url": "https://example.com/2", "title": "\\ud800"}',
        '{"key": "nul", "url": "https://example.com/3", "comments": "x\\u0000y"}',
        '{"key": "tag", "url": "https://example.com/4", "tags": ["t\\u0000g"]}',
        '{"key": "fold", "url": "https://example.com/5", "folderId": "fold_x", "folderName": "\\udcff"}',
        '{"key": "k\\ud800", "url": "https://example.com/6"}',
        '{"key": "ok2", "url": "https://example.com/7"}',
    ]
    r = cli("import", write(tmp_path, "text.jsonl", "\n".join(lines) + "\n"), "--format", "ours", "--json",
            check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    outcome = json.loads(r.stdout)
    assert outcome["imported"] == 2
    reasons = {x["row"]: x["reason"] for x in outcome["rejected"]}
    assert reasons == {
        2: "invalid_string: title: Invalid string: contains a lone surrogate",
        3: "invalid_string: comments: Invalid string: contains a NUL character",
        4: "invalid_string: tagNames.0: Invalid string: contains a NUL character",
        5: "invalid_string: folderName: Invalid string: contains a lone surrogate",
        6: "invalid_string: key: Invalid string: contains a lone surrogate",
    }
    assert "rejected row 6 (k\\ud800)" in r.stderr
    assert set(links(cli)) == {"go.test/ok1", "go.test/ok2"}


@pytest.mark.parametrize("text", ["١٢", "１２", "12\u00a0000"])
def test_only_ascii_digits_are_numbers(text):
    rows = list(importformats.read("dub", "Short link,Destination URL,Clicks,Sale amount\n"
                                          f"https://dub.sh/a,https://example.com/a,{text},\n"
                                          f"https://dub.sh/b,https://example.com/b,1,{text}\n"))
    assert rows[0].error is not None and rows[1].error is not None


def test_a_kutt_file_that_is_not_links_says_so(cli, tmp_path):
    r = cli("import", write(tmp_path, "k.json", '"just a string"'), "--format", "kutt", "--json", check=False)
    outcome = json.loads(r.stdout)
    assert r.returncode == 1 and outcome["imported"] == 0
    assert [(x["row"], x["reason"]) for x in outcome["rejected"]] == [(1, "not a JSON object")]
