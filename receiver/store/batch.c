#include "store/batch.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "routes.h"
#include "store/db.h"
#include "util/pgarray.h"

enum {
	A_ID,
	A_US,
	A_SOURCE,
	A_TYPE,
	A_DEPLOYMENT,
	A_SEVERITY,
	A_KEY,
	A_TOKEN,
	A_PEER,
	A_HEADERS,
	A_PAYLOAD,
	A_REG,
	A_COUNT,
};

_Static_assert(A_COUNT == sizeof(((struct batch_scratch *)0)->arrays) /
                              sizeof(struct buf),
               "one buffer per array parameter");

/* Rows of resolved: the input joined with the registration its token
 * names. Events with a token that names none are reported, not stored. */
static const char insert_sql[] =
    "WITH input AS ("
    " SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[],"
    "  $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],"
    "  $9::inet[], $10::jsonb[], $11::jsonb[], $12::uuid[])"
    " AS t(id, us, source, event_type, deployment_id, severity, key,"
    "  token, peer, headers, payload, registration)"
    "), resolved AS ("
    " SELECT i.*, coalesce(r.id, g.id) AS reg_id,"
    "  r.event_type AS reg_type, r.deployment_id AS reg_deployment"
    " FROM input i LEFT JOIN registrations r"
    "  ON i.token IS NOT NULL AND r.kind = 'webhook'"
    "  AND r.token_sha256 = decode(i.token, 'hex')"
    " LEFT JOIN registrations g ON g.id = i.registration"
    "), stored AS ("
    " INSERT INTO events (id, received_at, source, event_type,"
    "  deployment_id, severity, idempotency_key, registration_id, peer,"
    "  headers, payload)"
    " SELECT id, timestamptz 'epoch' + us * interval '1 microsecond',"
    "  source, coalesce(reg_type, event_type),"
    "  coalesce(reg_deployment, deployment_id), severity, key, reg_id,"
    "  peer, headers, payload"
    " FROM resolved WHERE token IS NULL OR reg_id IS NOT NULL"
    " ON CONFLICT (source, idempotency_key)"
    "  WHERE idempotency_key IS NOT NULL DO NOTHING"
    " RETURNING id, event_type, deployment_id"
    ")"
    " SELECT id::text, 's', event_type, deployment_id FROM stored"
    " UNION ALL"
    " SELECT id::text, 'u', NULL, NULL FROM resolved"
    "  WHERE token IS NOT NULL AND reg_id IS NULL";

/* One row per sink an event goes to; committing wakes the dispatchers. */
static const char deliveries_sql[] =
    "WITH d AS ("
    " INSERT INTO deliveries (id, event_id, sink, route)"
    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[],"
    "  $4::text[])"
    " RETURNING 1"
    ")"
    " SELECT pg_notify('herald_deliveries', count(*)::text) FROM d";

/* Runs after the insert, in a new snapshot, so it also sees rows that a
 * concurrent transaction committed meanwhile. */
static const char duplicates_sql[] =
    "SELECT i.n, e.id::text"
    " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY"
    "  AS i(source, key, n)"
    " JOIN events e ON e.source = i.source AND e.idempotency_key = i.key";

static enum batch_status classify(PGconn *conn, const PGresult *res, char *err,
                                  size_t size)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	snprintf(err, size, "%s", msg ? msg : PQerrorMessage(conn));
	err[strcspn(err, "\n")] = '\0';
	if (PQstatus(conn) != CONNECTION_OK || state == NULL ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0)
		return BATCH_CONNECTION;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return BATCH_RETRY;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
	    strncmp(state, "54", 2) == 0)
		return BATCH_DATA;
	return BATCH_FAILED;
}

/* Run a command whose result is not needed. */
static enum batch_status run(PGconn *conn, const char *sql, char *err,
                             size_t size)
{
	PGresult *res = PQexec(conn, sql);
	enum batch_status st = BATCH_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		st = classify(conn, res, err, size);
	PQclear(res);
	return st;
}

enum batch_status batch_prepare(PGconn *conn, char *err, size_t size)
{
	enum batch_status st;
	PGresult *res;

	/* Planning the insert costs more than running it for a small batch;
	 * its plan does not depend on the values, so plan it once. */
	st = run(conn, "SET plan_cache_mode = force_generic_plan", err, size);
	if (st != BATCH_OK)
		return st;
	res = PQprepare(conn, "herald_insert", insert_sql, A_COUNT, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		st = classify(conn, res, err, size);
	PQclear(res);
	if (st != BATCH_OK)
		return st;
	res = PQprepare(conn, "herald_duplicates", duplicates_sql, 2, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		st = classify(conn, res, err, size);
	PQclear(res);
	if (st != BATCH_OK)
		return st;
	res = PQprepare(conn, "herald_deliveries", deliveries_sql, 4, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		st = classify(conn, res, err, size);
	PQclear(res);
	return st;
}

static void token_hex(const struct event *ev, char out[65])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[ev->token_sha256[i] >> 4];
		out[2 * i + 1] = hex[ev->token_sha256[i] & 15];
	}
	out[64] = '\0';
}

static const char *peer_or_null(const char *peer)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, peer, addr) == 1 ||
	    inet_pton(AF_INET6, peer, addr) == 1)
		return peer;
	return NULL;
}

static void add_event(struct buf *a, const struct event *ev)
{
	char token[65];

	pgarray_add_str(&a[A_ID], ev->id);
	pgarray_add_int(&a[A_US], ev->received_us);
	pgarray_add_str(&a[A_SOURCE], ev->source);
	pgarray_add_str(&a[A_TYPE], ev->event_type);
	pgarray_add_str(&a[A_DEPLOYMENT], ev->deployment_id);
	pgarray_add_str(&a[A_SEVERITY], ev->severity);
	pgarray_add_str(&a[A_KEY], ev->idempotency_key);
	if (ev->has_token)
		token_hex(ev, token);
	pgarray_add_str(&a[A_TOKEN], ev->has_token ? token : NULL);
	pgarray_add_str(&a[A_PEER], peer_or_null(ev->peer));
	pgarray_add_str(&a[A_HEADERS], ev->headers ? ev->headers : "{}");
	pgarray_add(&a[A_PAYLOAD], ev->payload, ev->payload_len);
	pgarray_add_str(&a[A_REG],
	                ev->registration_id[0] ? ev->registration_id : NULL);
}

/* Build the array parameters; false if memory ran out. */
static bool build_arrays(struct batch_scratch *s, struct event *const *ev,
                         size_t n, const char *params[A_COUNT])
{
	bool ok = true;

	for (int i = 0; i < A_COUNT; i++)
		pgarray_begin(&s->arrays[i]);
	for (size_t k = 0; k < n; k++)
		add_event(s->arrays, ev[k]);
	for (int i = 0; i < A_COUNT; i++) {
		pgarray_end(&s->arrays[i]);
		ok &= !buf_failed(&s->arrays[i]);
		params[i] = buf_str(&s->arrays[i]);
	}
	return ok;
}

static int by_id(const void *a, const void *b)
{
	const struct event *x = *(struct event *const *)a;
	const struct event *y = *(struct event *const *)b;

	return strcmp(x->id, y->id);
}

static struct event *find(struct event **sorted, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(sorted[mid]->id, id);

		if (c == 0)
			return sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Outcomes from the insert's rows; what is left pending had a key that
 * was taken. The resolved type and deployment of stored Abacus events are
 * copied back, for routing. */
static void apply_rows(PGresult *res, struct event *const *ev, size_t n)
{
	struct event **sorted = malloc(n * sizeof(*sorted));

	if (sorted == NULL)
		return;
	memcpy(sorted, ev, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), by_id);
	for (int r = 0; r < PQntuples(res); r++) {
		struct event *e = find(sorted, n, PQgetvalue(res, r, 0));
		bool stored = PQgetvalue(res, r, 1)[0] == 's';

		if (e == NULL)
			continue;
		e->outcome = stored ? EVENT_STORED : EVENT_UNKNOWN_TOKEN;
		if (stored && e->event_type == NULL)
			e->event_type = strdup(PQgetvalue(res, r, 2));
		if (stored && e->deployment_id == NULL &&
		    !PQgetisnull(res, r, 3))
			e->deployment_id = strdup(PQgetvalue(res, r, 3));
	}
	free(sorted);
}

static enum batch_status find_duplicates(PGconn *conn, struct batch_scratch *s,
                                         struct event *const *ev, size_t n,
                                         char *err, size_t size)
{
	const char *params[2];
	enum batch_status st = BATCH_OK;
	size_t asked = 0;
	PGresult *res;

	pgarray_begin(&s->keys[0]);
	pgarray_begin(&s->keys[1]);
	for (size_t i = 0; i < n; i++) {
		bool ask = ev[i]->outcome == EVENT_PENDING &&
		           ev[i]->idempotency_key != NULL;

		/* Every event gets a slot so ordinality is its index. */
		pgarray_add_str(&s->keys[0], ask ? ev[i]->source : NULL);
		pgarray_add_str(&s->keys[1],
		                ask ? ev[i]->idempotency_key : NULL);
		asked += ask;
	}
	pgarray_end(&s->keys[0]);
	pgarray_end(&s->keys[1]);
	if (asked == 0)
		return BATCH_OK;
	params[0] = buf_str(&s->keys[0]);
	params[1] = buf_str(&s->keys[1]);
	res =
	    PQexecPrepared(conn, "herald_duplicates", 2, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		st = classify(conn, res, err, size);
	for (int r = 0; st == BATCH_OK && r < PQntuples(res); r++) {
		size_t i = (size_t)strtoul(PQgetvalue(res, r, 0), NULL, 10) - 1;

		if (i < n && ev[i]->outcome == EVENT_PENDING) {
			ev[i]->outcome = EVENT_DUPLICATE;
			snprintf(ev[i]->first_id, sizeof(ev[i]->first_id), "%s",
			         PQgetvalue(res, r, 1));
		}
	}
	PQclear(res);
	return st;
}

static enum batch_status insert(PGconn *conn, struct batch_scratch *s,
                                struct event *const *ev, size_t n, char *err,
                                size_t size)
{
	const char *params[A_COUNT];
	enum batch_status st = BATCH_OK;
	PGresult *res;

	if (!build_arrays(s, ev, n, params)) {
		snprintf(err, size, "out of memory building the batch");
		return BATCH_FAILED;
	}
	res = PQexecPrepared(conn, "herald_insert", A_COUNT, params, NULL, NULL,
	                     0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		apply_rows(res, ev, n);
	else
		st = classify(conn, res, err, size);
	PQclear(res);
	return st;
}

/* One delivery row per sink the event's routes name. */
static bool add_deliveries(struct batch_scratch *s, const struct config *cfg,
                           const struct event *ev, size_t *rows)
{
	struct route_hit hits[ROUTES_SINKS_MAX];
	struct route_input in = { ev->source, ev->event_type, ev->deployment_id,
		                  ev->severity, ev->labels };
	size_t k = routes_match(cfg, &in, hits, ROUTES_SINKS_MAX);

	for (size_t j = 0; j < k; j++) {
		struct uuid u;
		char id[UUID_STR_LEN + 1];

		if (!uuid_v7(&u))
			return false;
		uuid_format(&u, id);
		pgarray_add_str(&s->deliveries[0], id);
		pgarray_add_str(&s->deliveries[1], ev->id);
		pgarray_add_str(&s->deliveries[2], hits[j].sink);
		pgarray_add_str(&s->deliveries[3], hits[j].route);
	}
	*rows += k;
	return true;
}

/* The delivery rows of the stored events, as arrays: id, event id, sink
 * and route. An event acknowledged without its deliveries would never
 * reach its sinks, so any failure here fails the batch. */
static enum batch_status build_deliveries(struct batch_scratch *s,
                                          const struct config *cfg,
                                          struct event *const *ev, size_t n,
                                          size_t *rows, char *err, size_t size)
{
	bool ok = true;

	for (int i = 0; i < 4; i++)
		pgarray_begin(&s->deliveries[i]);
	for (size_t i = 0; ok && i < n; i++) {
		if (ev[i]->outcome == EVENT_STORED)
			ok = add_deliveries(s, cfg, ev[i], rows);
	}
	for (int i = 0; i < 4; i++) {
		pgarray_end(&s->deliveries[i]);
		ok &= !buf_failed(&s->deliveries[i]);
	}
	if (ok)
		return BATCH_OK;
	snprintf(err, size, "cannot build the delivery rows");
	return BATCH_FAILED;
}

static enum batch_status
insert_deliveries(PGconn *conn, struct batch_scratch *s, char *err, size_t size)
{
	const char *params[4];
	enum batch_status st = BATCH_OK;
	PGresult *res;

	for (int i = 0; i < 4; i++)
		params[i] = buf_str(&s->deliveries[i]);
	res =
	    PQexecPrepared(conn, "herald_deliveries", 4, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		st = classify(conn, res, err, size);
	PQclear(res);
	return st;
}

/* What the insert marked stored was rolled back. */
static void unstore(struct event *const *events, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (events[i]->outcome == EVENT_STORED)
			events[i]->outcome = EVENT_PENDING;
	}
}

/* Events and their deliveries in one transaction. */
static enum batch_status insert_routed(PGconn *conn, struct batch_scratch *s,
                                       const struct config *cfg,
                                       struct event *const *events, size_t n,
                                       char *err, size_t size)
{
	enum batch_status st = run(conn, "BEGIN", err, size);
	size_t rows = 0;

	if (st == BATCH_OK)
		st = insert(conn, s, events, n, err, size);
	if (st == BATCH_OK)
		st = build_deliveries(s, cfg, events, n, &rows, err, size);
	if (st == BATCH_OK && rows > 0)
		st = insert_deliveries(conn, s, err, size);
	if (st == BATCH_OK)
		st = run(conn, "COMMIT", err, size);
	if (st == BATCH_OK)
		return st;
	unstore(events, n);
	if (PQtransactionStatus(conn) != PQTRANS_IDLE &&
	    PQstatus(conn) == CONNECTION_OK)
		db_exec_quiet(conn, "ROLLBACK");
	return st;
}

enum batch_status batch_store(PGconn *conn, struct batch_scratch *s,
                              const struct config *cfg,
                              struct event *const *events, size_t n, char *err,
                              size_t size)
{
	enum batch_status st;

	/* Without routes one statement is the whole transaction: no BEGIN
	 * and COMMIT round trips. The rows a duplicate points at are
	 * committed already, so finding them needs no transaction. */
	if (cfg != NULL && cfg->routes.count > 0)
		st = insert_routed(conn, s, cfg, events, n, err, size);
	else
		st = insert(conn, s, events, n, err, size);
	if (st == BATCH_OK)
		st = find_duplicates(conn, s, events, n, err, size);
	return st;
}

void batch_scratch_free(struct batch_scratch *s)
{
	for (int i = 0; i < A_COUNT; i++)
		buf_free(&s->arrays[i]);
	buf_free(&s->keys[0]);
	buf_free(&s->keys[1]);
	for (int i = 0; i < 4; i++)
		buf_free(&s->deliveries[i]);
}
