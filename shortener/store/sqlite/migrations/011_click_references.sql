-- Click retention (SHORTENER_CLICK_RETENTION_DAYS) keeps the clicks a customer, lead or sale
-- refers to: these indexes make that check a lookup per click instead of a scan per chunk.
CREATE INDEX IF NOT EXISTS customers_click ON customers (click_id);
CREATE INDEX IF NOT EXISTS lead_events_click ON lead_events (click_id);
CREATE INDEX IF NOT EXISTS sale_events_click ON sale_events (click_id);
