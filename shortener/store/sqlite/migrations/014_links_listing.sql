-- The links list (API and dashboard) at 100k links: every sort it offers, and search.
--
-- Sorts: an index ending in the id tie-break yields `ORDER BY col, id LIMIT/OFFSET` without
-- sorting the table, and skipping 49,900 rows (page 500) reads narrow index entries only.
-- `archived` leads because the list hides archived links by default; a list with archived links
-- too reads (created_at, id) for the default order and scans the sort's index (narrow, no table
-- rows) for the others. The created_at indexes cover the two they replace.
-- The click writer updates clicks and last_clicked of every link in a batch, and each index on
-- them costs it a delete and an insert per link. With every click on a different link (uniform
-- over 100k links, bench_click_writer's worst case), one index on (clicks, id) costs the writer
-- ~10-12 % CPU per click, a second one on (last_clicked, id) ~22 % in all. So last_clicked only
-- rides along in the clicks index: sorting by it scans that narrow index (~25 ms at 100k links,
-- ~90 ms for page 500) instead of the table.
DROP INDEX IF EXISTS links_archived_created;
DROP INDEX IF EXISTS links_created;
CREATE INDEX links_created_id ON links (created_at, id);
CREATE INDEX links_archived_created_id ON links (archived, created_at, id);
CREATE INDEX links_archived_clicks_id ON links (archived, clicks, id, last_clicked);
CREATE INDEX links_archived_sale_amount_id ON links (archived, sale_amount, id);

-- Search matches key and url by case-insensitive substring (LIKE '%term%'), which reads every
-- row. A trigram index finds the candidates of a term of 3+ characters; the query still applies
-- the LIKE, so answers are the same (trigram folding is a superset of LIKE's ASCII-only folding).
-- The FTS table is contentless (the text stays in `links` only) and keyed by an integer of its
-- own: links has a text primary key, and its implicit rowid may change under VACUUM.
CREATE TABLE links_search_rows (
    rid INTEGER PRIMARY KEY,
    link_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE links_search USING fts5(key, url, content='', tokenize='trigram');

-- A contentless FTS5 table forgets a row only when given the exact text it indexed: OLD values.
CREATE TRIGGER links_search_insert AFTER INSERT ON links BEGIN
    INSERT INTO links_search_rows (link_id) VALUES (NEW.id);
    INSERT INTO links_search (rowid, key, url)
        SELECT rid, NEW.key, NEW.url FROM links_search_rows WHERE link_id = NEW.id;
END;
CREATE TRIGGER links_search_delete AFTER DELETE ON links BEGIN
    INSERT INTO links_search (links_search, rowid, key, url)
        SELECT 'delete', rid, OLD.key, OLD.url FROM links_search_rows WHERE link_id = OLD.id;
    DELETE FROM links_search_rows WHERE link_id = OLD.id;
END;
CREATE TRIGGER links_search_update AFTER UPDATE OF id, key, url ON links BEGIN
    INSERT INTO links_search (links_search, rowid, key, url)
        SELECT 'delete', rid, OLD.key, OLD.url FROM links_search_rows WHERE link_id = OLD.id;
    UPDATE links_search_rows SET link_id = NEW.id WHERE link_id = OLD.id;
    INSERT INTO links_search (rowid, key, url)
        SELECT rid, NEW.key, NEW.url FROM links_search_rows WHERE link_id = NEW.id;
END;

-- The links stored before this migration.
INSERT INTO links_search_rows (link_id) SELECT id FROM links ORDER BY created_at, id;
INSERT INTO links_search (rowid, key, url)
    SELECT r.rid, l.key, l.url FROM links_search_rows r JOIN links l ON l.id = r.link_id;
