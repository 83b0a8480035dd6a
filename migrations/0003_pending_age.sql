-- Pending deliveries by sink and age: the sweep finds those older than
-- their sink's max_age (a sink that is off, gone from the configuration
-- or cannot be opened leaves them pending) without reading the rest.

CREATE INDEX deliveries_pending_age
    ON deliveries (sink, created_at) WHERE status = 'pending';
