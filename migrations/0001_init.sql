-- Herald's first schema: what was registered at Abacus, the audit log of
-- events, and the deliveries of each event to its sinks with every attempt.

-- Webhooks and alerts Herald created at Abacus. Only the SHA-256 of a
-- webhook's URL token is kept: the token itself lives only in the URL that
-- Abacus calls.
CREATE TABLE registrations (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('webhook', 'alert')),
    deployment_id   text NOT NULL,
    event_type      text,
    name            text,
    token_sha256    bytea UNIQUE CHECK (octet_length(token_sha256) = 32),
    remote_id       text,
    endpoint        text,
    settings        jsonb NOT NULL DEFAULT '{}',
    last_version    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'webhook' OR (event_type IS NOT NULL
                                 AND token_sha256 IS NOT NULL))
);

CREATE UNIQUE INDEX registrations_webhook_key
    ON registrations (deployment_id, event_type) WHERE kind = 'webhook';
CREATE UNIQUE INDEX registrations_alert_key
    ON registrations (deployment_id, name) WHERE kind = 'alert';

-- The audit log. Ids are UUIDv7, so id order is arrival order and the
-- primary key index only ever grows at its right edge.
CREATE TABLE events (
    id               uuid PRIMARY KEY,
    received_at      timestamptz NOT NULL,
    source           text NOT NULL,
    event_type       text NOT NULL,
    deployment_id    text,
    severity         text,
    idempotency_key  text,
    registration_id  uuid REFERENCES registrations (id) ON DELETE SET NULL,
    peer             inet,
    headers          jsonb NOT NULL DEFAULT '{}',
    payload          jsonb NOT NULL
);

-- One event per (source, key): repeats of a request are answered with the
-- first event's id.
CREATE UNIQUE INDEX events_idempotency
    ON events (source, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_received ON events (received_at, id);
CREATE INDEX events_deployment
    ON events (deployment_id, event_type, received_at)
    WHERE deployment_id IS NOT NULL;
CREATE INDEX events_type ON events (event_type, received_at);

-- One row per event and sink. A dispatcher claims due rows by setting
-- locked_until (a lease); a process that dies lets its leases run out.
CREATE TABLE deliveries (
    id               uuid PRIMARY KEY,
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    sink             text NOT NULL,
    route            text,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed',
                                       'dead')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz,
    locked_by        text,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, sink)
);

-- The dispatcher's question: which pending deliveries are due?
CREATE INDEX deliveries_due
    ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_status ON deliveries (status, updated_at);

-- Every try of a delivery, successful or not.
CREATE TABLE delivery_attempts (
    delivery_id  uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt      integer NOT NULL CHECK (attempt > 0),
    started_at   timestamptz NOT NULL,
    duration_ms  integer NOT NULL CHECK (duration_ms >= 0),
    outcome      text NOT NULL
                 CHECK (outcome IN ('delivered', 'retry', 'failed')),
    http_status  integer,
    error        text,
    response     text,
    PRIMARY KEY (delivery_id, attempt)
);
