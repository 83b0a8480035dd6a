#include "dispatch/queries.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "util/pgarray.h"

/*
 * A lease that ran out before its attempt was recorded (the holder
 * stopped or lost the database) leaves the attempt number used and no
 * row. LOST_ATTEMPTS, a CTE over a CTE `locked` of deliveries (id,
 * attempts, locked_until, updated_at, as they were locked), writes a row
 * for every such number, started when the lease was taken and lasting
 * the lease, so that every attempt is on record. Only a delivery whose
 * lease ran out still has locked_until set. Should the holder record
 * the real outcome after all, it replaces the row (see record_sql).
 */
#define LOST_ERROR                                                             \
	"outcome unknown: the lease ran out first (the process stopped or"     \
	" lost the database)"
#define LOST_ATTEMPTS                                                          \
	" INSERT INTO delivery_attempts (delivery_id, attempt, started_at,"    \
	"  duration_ms, outcome, error)"                                       \
	" SELECT l.id, n.attempt, l.updated_at,"                               \
	"  least(greatest(0, extract(epoch FROM l.locked_until"                \
	"   - l.updated_at) * 1000), 2147483647)::int,"                        \
	"  'retry', '" LOST_ERROR "'"                                          \
	" FROM locked l CROSS JOIN LATERAL"                                    \
	"  generate_series(1, l.attempts) AS n(attempt)"                       \
	" WHERE l.locked_until IS NOT NULL"                                    \
	" ON CONFLICT DO NOTHING"

static const char claim_sql[] =
    "WITH caps AS ("
    " SELECT * FROM unnest($1::text[], $2::int[]) AS c(sink, cap)"
    "), locked AS ("
    " SELECT d.* FROM caps c CROSS JOIN LATERAL ("
    "  SELECT id, attempts, locked_until, updated_at FROM deliveries"
    "  WHERE sink = c.sink AND status = 'pending'"
    "   AND next_attempt_at <= now()"
    "   AND (locked_until IS NULL OR locked_until < now())"
    "  ORDER BY next_attempt_at LIMIT c.cap"
    "  FOR UPDATE SKIP LOCKED) d"
    "), lost AS (" LOST_ATTEMPTS "), claimed AS ("
    " UPDATE deliveries d SET"
    "  locked_until = now() + $3::bigint * interval '1 millisecond',"
    "  locked_by = $4, attempts = d.attempts + 1, updated_at = now()"
    " FROM locked WHERE d.id = locked.id"
    " RETURNING d.id, d.event_id, d.sink, d.attempts, d.created_at"
    ")"
    " SELECT c.id::text, c.sink, c.attempts,"
    "  (extract(epoch FROM now() - c.created_at) * 1000)::bigint,"
    "  e.id::text,"
    "  to_char(e.received_at AT TIME ZONE 'UTC',"
    "          'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    "  e.source, e.event_type, e.deployment_id, e.severity,"
    "  e.idempotency_key, e.payload::text, e.headers::text,"
    "  (extract(epoch FROM e.received_at) * 1000)::bigint"
    " FROM claimed c JOIN events e ON e.id = c.event_id";

/* The attempt row and the delivery's next state in one statement. An
 * attempt whose lease another process has taken since is still recorded
 * (it happened), replacing the row written for it as lost, but does not
 * move the delivery. */
static const char record_sql[] =
    "WITH r AS ("
    " SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[],"
    "  $4::bigint[], $5::bigint[], $6::int[], $7::text[], $8::int[],"
    "  $9::text[], $10::text[])"
    " AS t(id, attempt, status, delay_ms, started_us, duration_ms,"
    "  outcome, http_status, error, response)"
    "), attempts AS ("
    " INSERT INTO delivery_attempts (delivery_id, attempt, started_at,"
    "  duration_ms, outcome, http_status, error, response)"
    " SELECT id, attempt,"
    "  timestamptz 'epoch' + started_us * interval '1 microsecond',"
    "  duration_ms, outcome, http_status, error, response FROM r"
    " ON CONFLICT (delivery_id, attempt) DO UPDATE SET"
    "  started_at = excluded.started_at,"
    "  duration_ms = excluded.duration_ms, outcome = excluded.outcome,"
    "  http_status = excluded.http_status, error = excluded.error,"
    "  response = excluded.response"
    " WHERE delivery_attempts.error = '" LOST_ERROR "'"
    ")"
    " UPDATE deliveries d SET status = r.status,"
    "  next_attempt_at = now() + r.delay_ms * interval '1 millisecond',"
    "  locked_until = NULL, locked_by = NULL, last_error = r.error,"
    "  updated_at = now()"
    " FROM r WHERE d.id = r.id AND d.attempts = r.attempt"
    "  AND d.locked_by = $11";

/* Per sink, how long until its first pending delivery that no live
 * lease holds is due (0 if it is), through deliveries_due_by_sink: one
 * index probe per sink, past the deliveries in flight. */
static const char next_due_sql[] =
    "SELECT s.i::int - 1,"
    " greatest(0, ceil(extract(epoch FROM x.next_attempt_at - now())"
    "  * 1000))::bigint"
    " FROM unnest($1::text[]) WITH ORDINALITY AS s(sink, i)"
    " CROSS JOIN LATERAL ("
    "  SELECT next_attempt_at FROM deliveries"
    "  WHERE sink = s.sink AND status = 'pending'"
    "   AND (locked_until IS NULL OR locked_until < now())"
    "  ORDER BY next_attempt_at LIMIT 1) x";

/*
 * Pending deliveries older than their sink's max_age become dead, with
 * why in last_error; at most $6 per sink. The sinks with pending
 * deliveries are found by skipping through deliveries_pending_age, one
 * probe each; sinks not in $1 (no longer configured) get $4 and $5. A
 * live lease is left alone: its attempt will be recorded.
 */
static const char expire_sql[] =
    "WITH RECURSIVE names(sink) AS ("
    " SELECT min(sink) FROM deliveries WHERE status = 'pending'"
    " UNION ALL"
    " SELECT (SELECT min(d.sink) FROM deliveries d"
    "  WHERE d.status = 'pending' AND d.sink > n.sink)"
    " FROM names n WHERE n.sink IS NOT NULL"
    "), policy AS ("
    " SELECT n.sink, coalesce(c.max_age_ms, $4) AS max_age_ms,"
    "  coalesce(c.reason, $5) AS reason"
    " FROM names n LEFT JOIN unnest($1::text[], $2::bigint[], $3::text[])"
    "  AS c(sink, max_age_ms, reason) ON c.sink = n.sink"
    " WHERE n.sink IS NOT NULL"
    "), locked AS ("
    " SELECT o.*, p.reason FROM policy p CROSS JOIN LATERAL ("
    "  SELECT id, attempts, locked_until, updated_at FROM deliveries"
    "  WHERE sink = p.sink AND status = 'pending'"
    "   AND created_at < now() - p.max_age_ms * interval '1 millisecond'"
    "   AND (locked_until IS NULL OR locked_until < now())"
    "  ORDER BY created_at LIMIT $6"
    "  FOR UPDATE SKIP LOCKED) o"
    "), lost AS (" LOST_ATTEMPTS ")"
    " UPDATE deliveries d SET status = 'dead',"
    "  last_error = locked.reason"
    "   || coalesce(' (last error: ' || d.last_error || ')', ''),"
    "  locked_until = NULL, locked_by = NULL, updated_at = now()"
    " FROM locked WHERE d.id = locked.id"
    " RETURNING d.id::text, d.event_id::text, d.sink, locked.reason";

/* A stop gives its leases back, so that another process may try at once,
 * and records each attempt it abandons: the request may have been sent,
 * and every attempt is on record. */
#define ABANDONED_ERROR "abandoned: herald stopped before the outcome came"
static const char release_sql[] =
    "WITH old AS ("
    " SELECT id, attempts, updated_at FROM deliveries"
    " WHERE id = ANY($1::uuid[]) AND locked_by = $2"
    "  AND status = 'pending'"
    " FOR UPDATE"
    "), freed AS ("
    " UPDATE deliveries d SET locked_until = NULL, locked_by = NULL,"
    "  next_attempt_at = now(), updated_at = now()"
    " FROM old WHERE d.id = old.id"
    " RETURNING old.id, old.attempts, old.updated_at"
    ")"
    " INSERT INTO delivery_attempts (delivery_id, attempt, started_at,"
    "  duration_ms, outcome, error)"
    " SELECT id, attempts, updated_at,"
    "  least(greatest(0, extract(epoch FROM now() - updated_at) * 1000),"
    "   2147483647)::int,"
    "  'retry', '" ABANDONED_ERROR "'"
    " FROM freed WHERE attempts > 0"
    " ON CONFLICT DO NOTHING";

static void result_error(const PGresult *res, char *err, size_t size)
{
	db_result_error(res, err, size);
}

static bool prepare(PGconn *conn, const char *name, const char *sql,
                    int nparams, char *err, size_t size)
{
	PGresult *res = PQprepare(conn, name, sql, nparams, NULL);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		result_error(res, err, size);
	PQclear(res);
	return ok;
}

bool dq_prepare(PGconn *conn, char *err, size_t size)
{
	return db_exec(conn, "SET plan_cache_mode = force_generic_plan", err,
	               size) &&
	       prepare(conn, "dq_claim", claim_sql, 4, err, size) &&
	       prepare(conn, "dq_record", record_sql, 11, err, size) &&
	       prepare(conn, "dq_release", release_sql, 2, err, size) &&
	       prepare(conn, "dq_next_due", next_due_sql, 1, err, size) &&
	       prepare(conn, "dq_expire", expire_sql, 6, err, size) &&
	       db_exec(conn, "LISTEN herald_deliveries", err, size);
}

static const char *value(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static void read_row(PGresult *res, int i, struct claim_row *r)
{
	r->delivery_id = value(res, i, 0);
	r->sink = value(res, i, 1);
	r->attempt = (int)strtol(PQgetvalue(res, i, 2), NULL, 10);
	r->age_ms = strtoll(PQgetvalue(res, i, 3), NULL, 10);
	r->event_id = value(res, i, 4);
	r->received_at = value(res, i, 5);
	r->source = value(res, i, 6);
	r->event_type = value(res, i, 7);
	r->deployment_id = value(res, i, 8);
	r->severity = value(res, i, 9);
	r->idempotency_key = value(res, i, 10);
	r->payload = value(res, i, 11);
	r->headers = value(res, i, 12);
	r->received_ms = strtoll(PQgetvalue(res, i, 13), NULL, 10);
}

int dq_claim(PGconn *conn, const char *const *sinks, const int *caps,
             size_t nsinks, int64_t lease_ms, const char *owner, PGresult **res,
             struct claim_row *rows, char *err, size_t size)
{
	struct buf names = { 0 }, limits = { 0 };
	char lease[24];
	const char *params[4];
	int n = -1;

	pgarray_begin(&names);
	pgarray_begin(&limits);
	for (size_t i = 0; i < nsinks; i++) {
		pgarray_add_str(&names, sinks[i]);
		pgarray_add_int(&limits, caps[i]);
	}
	pgarray_end(&names);
	pgarray_end(&limits);
	snprintf(lease, sizeof(lease), "%" PRId64, lease_ms);
	params[0] = buf_str(&names);
	params[1] = buf_str(&limits);
	params[2] = lease;
	params[3] = owner;
	*res = PQexecPrepared(conn, "dq_claim", 4, params, NULL, NULL, 0);
	if (PQresultStatus(*res) == PGRES_TUPLES_OK) {
		n = PQntuples(*res);
		for (int i = 0; i < n; i++)
			read_row(*res, i, &rows[i]);
	} else {
		result_error(*res, err, size);
		PQclear(*res);
		*res = NULL;
	}
	buf_free(&names);
	buf_free(&limits);
	return n;
}

enum {
	R_ID,
	R_ATTEMPT,
	R_STATUS,
	R_DELAY,
	R_STARTED,
	R_DURATION,
	R_OUTCOME,
	R_HTTP,
	R_ERROR,
	R_RESPONSE,
	R_COUNT
};

static void add_record(struct buf *a, const struct attempt_record *r)
{
	pgarray_add_str(&a[R_ID], r->delivery_id);
	pgarray_add_int(&a[R_ATTEMPT], r->attempt);
	pgarray_add_str(&a[R_STATUS], r->status);
	pgarray_add_int(&a[R_DELAY], r->delay_ms);
	pgarray_add_int(&a[R_STARTED], r->started_us);
	pgarray_add_int(&a[R_DURATION], r->duration_ms);
	pgarray_add_str(&a[R_OUTCOME], r->outcome);
	if (r->http_status > 0)
		pgarray_add_int(&a[R_HTTP], r->http_status);
	else
		pgarray_add_str(&a[R_HTTP], NULL);
	pgarray_add_str(&a[R_ERROR], r->error[0] ? r->error : NULL);
	pgarray_add_str(&a[R_RESPONSE], r->response[0] ? r->response : NULL);
}

bool dq_record(PGconn *conn, const struct attempt_record *r, size_t n,
               const char *owner, char *err, size_t size)
{
	struct buf a[R_COUNT] = { 0 };
	const char *params[R_COUNT + 1];
	bool ok = true;
	PGresult *res;

	for (int i = 0; i < R_COUNT; i++)
		pgarray_begin(&a[i]);
	for (size_t k = 0; k < n; k++)
		add_record(a, &r[k]);
	for (int i = 0; i < R_COUNT; i++) {
		pgarray_end(&a[i]);
		ok &= !buf_failed(&a[i]);
		params[i] = buf_str(&a[i]);
	}
	params[R_COUNT] = owner;
	if (ok) {
		res = PQexecPrepared(conn, "dq_record", R_COUNT + 1, params,
		                     NULL, NULL, 0);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			result_error(res, err, size);
		PQclear(res);
	} else {
		snprintf(err, size, "out of memory");
	}
	for (int i = 0; i < R_COUNT; i++)
		buf_free(&a[i]);
	return ok;
}

bool dq_next_due(PGconn *conn, const char *const *sinks, size_t n, int64_t *ms,
                 char *err, size_t size)
{
	struct buf names = { 0 };
	const char *params[1];
	PGresult *res;
	bool ok;

	for (size_t i = 0; i < n; i++)
		ms[i] = -1;
	pgarray_begin(&names);
	for (size_t i = 0; i < n; i++)
		pgarray_add_str(&names, sinks[i]);
	pgarray_end(&names);
	if (buf_failed(&names)) {
		snprintf(err, size, "out of memory");
		buf_free(&names);
		return false;
	}
	params[0] = buf_str(&names);
	res = PQexecPrepared(conn, "dq_next_due", 1, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		result_error(res, err, size);
	for (int r = 0; ok && r < PQntuples(res); r++) {
		long i = strtol(PQgetvalue(res, r, 0), NULL, 10);

		if (i >= 0 && (size_t)i < n)
			ms[i] = strtoll(PQgetvalue(res, r, 1), NULL, 10);
	}
	PQclear(res);
	buf_free(&names);
	return ok;
}

PGresult *dq_expire(PGconn *conn, const struct dq_policy *sinks, size_t n,
                    const struct dq_policy *others, int limit, char *err,
                    size_t size)
{
	struct buf a[3] = { 0 };
	char age[24], most[16];
	const char *params[6];
	PGresult *res = NULL;
	bool ok = true;

	for (int i = 0; i < 3; i++)
		pgarray_begin(&a[i]);
	for (size_t i = 0; i < n; i++) {
		pgarray_add_str(&a[0], sinks[i].sink);
		pgarray_add_int(&a[1], sinks[i].max_age_ms);
		pgarray_add_str(&a[2], sinks[i].reason);
	}
	for (int i = 0; i < 3; i++) {
		pgarray_end(&a[i]);
		ok &= !buf_failed(&a[i]);
		params[i] = buf_str(&a[i]);
	}
	snprintf(age, sizeof(age), "%" PRId64, others->max_age_ms);
	snprintf(most, sizeof(most), "%d", limit);
	params[3] = age;
	params[4] = others->reason;
	params[5] = most;
	if (!ok)
		snprintf(err, size, "out of memory");
	else
		res =
		    PQexecPrepared(conn, "dq_expire", 6, params, NULL, NULL, 0);
	if (ok && PQresultStatus(res) != PGRES_TUPLES_OK) {
		result_error(res, err, size);
		PQclear(res);
		res = NULL;
	}
	for (int i = 0; i < 3; i++)
		buf_free(&a[i]);
	return res;
}

bool dq_release(PGconn *conn, const char *const *ids, size_t n,
                const char *owner, char *err, size_t size)
{
	struct buf list = { 0 };
	const char *params[2];
	PGresult *res;
	bool ok;

	pgarray_begin(&list);
	for (size_t i = 0; i < n; i++)
		pgarray_add_str(&list, ids[i]);
	pgarray_end(&list);
	params[0] = buf_str(&list);
	params[1] = owner;
	res = PQexecPrepared(conn, "dq_release", 2, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		result_error(res, err, size);
	PQclear(res);
	buf_free(&list);
	return ok;
}

bool dq_disable_sink(PGconn *conn, const char *sink, const char *reason,
                     char *err, size_t size)
{
	const char *params[2] = { sink, reason };

	return db_exec_params(conn,
	                      "INSERT INTO sink_state (sink, reason)"
	                      " VALUES ($1, $2) ON CONFLICT (sink) DO NOTHING",
	                      2, params, err, size);
}

PGresult *dq_disabled_sinks(PGconn *conn, char *err, size_t size)
{
	PGresult *res = PQexec(conn, "SELECT sink FROM sink_state");

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		result_error(res, err, size);
		PQclear(res);
		return NULL;
	}
	return res;
}
