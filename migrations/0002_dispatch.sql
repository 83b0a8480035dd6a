-- What the dispatcher needs beyond the first schema: due deliveries found
-- per sink, and sinks an endpoint told to go away (HTTP 410), which stay
-- off until someone turns them on again.

CREATE INDEX deliveries_due_by_sink
    ON deliveries (sink, next_attempt_at) WHERE status = 'pending';

CREATE TABLE sink_state (
    sink         text PRIMARY KEY,
    disabled_at  timestamptz NOT NULL DEFAULT now(),
    reason       text NOT NULL
);
