-- Indexes for the links API (the redirect path reads by (domain, key), already unique-indexed).
-- Listing hides archived links and sorts newest first; counting reads the same index, which is
-- far narrower than the rows (URLs can be 32k characters).
CREATE INDEX links_archived_created ON links (archived, created_at);
-- Upsert finds a link by its exact destination URL. A prefix keeps the index small whatever the
-- URL length; the query compares the full URL after the index narrows it down.
CREATE INDEX links_url_prefix ON links (substr(url, 1, 100));
