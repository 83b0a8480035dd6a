/*
 * Every statement binds its values as parameters. Rows are replaced
 * whole by id: the planner reuses a registration's id for as long as the
 * configuration names it, so events keep pointing at it.
 */
#include "abacus/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"

static const char load_sql[] =
    "SELECT id::text, kind, deployment_id, event_type, name,"
    " encode(token_sha256, 'hex'), remote_id, settings::text, last_version"
    " FROM registrations ORDER BY created_at, id";

static const char put_webhook_sql[] =
    "INSERT INTO registrations (id, kind, deployment_id, event_type,"
    " token_sha256, remote_id, endpoint, settings)"
    " VALUES ($1::uuid, 'webhook', $2, $3, decode($4, 'hex'), $5, $6,"
    " $7::jsonb)"
    " ON CONFLICT (id) DO UPDATE SET deployment_id = EXCLUDED.deployment_id,"
    " event_type = EXCLUDED.event_type,"
    " token_sha256 = EXCLUDED.token_sha256,"
    " remote_id = EXCLUDED.remote_id, endpoint = EXCLUDED.endpoint,"
    " settings = EXCLUDED.settings, updated_at = now()";

static const char put_alert_sql[] =
    "INSERT INTO registrations (id, kind, deployment_id, name, remote_id,"
    " settings, last_version)"
    " VALUES ($1::uuid, 'alert', $2, $3, $4, $5::jsonb, $6)"
    " ON CONFLICT (id) DO UPDATE SET deployment_id = EXCLUDED.deployment_id,"
    " name = EXCLUDED.name, remote_id = EXCLUDED.remote_id,"
    " settings = EXCLUDED.settings, last_version = EXCLUDED.last_version,"
    " updated_at = now()";

/* Run sql with n text parameters; false with the server's reason. */
/* Loading */

static char *value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL
	                                  : strdup(PQgetvalue(res, row, col));
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool parse_hash(const char *hex, uint8_t out[32])
{
	if (strlen(hex) != 64)
		return false;
	for (int i = 0; i < 32; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Fill g from row; false when out of memory. */
static bool read_row(const PGresult *res, int row, struct abacus_reg *g)
{
	snprintf(g->id, sizeof(g->id), "%s", PQgetvalue(res, row, 0));
	g->alert = strcmp(PQgetvalue(res, row, 1), "alert") == 0;
	g->deployment_id = value(res, row, 2);
	g->event_type = value(res, row, 3);
	g->name = value(res, row, 4);
	g->has_token = !PQgetisnull(res, row, 5) &&
	               parse_hash(PQgetvalue(res, row, 5), g->token_sha256);
	g->remote_id = value(res, row, 6);
	g->settings = json_loads(PQgetvalue(res, row, 7), 0, NULL);
	g->last_version = value(res, row, 8);
	return g->deployment_id != NULL && g->settings != NULL &&
	       (g->event_type != NULL || PQgetisnull(res, row, 3)) &&
	       (g->name != NULL || PQgetisnull(res, row, 4));
}

bool abacus_registry_load(PGconn *conn, struct abacus_regs *out, char *err,
                          size_t size)
{
	PGresult *res = PQexec(conn, load_sql);
	int n = PQntuples(res);
	bool ok = true;

	memset(out, 0, sizeof(*out));
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_result_error(res, err, size);
		PQclear(res);
		return false;
	}
	out->items = calloc((size_t)n + 1, sizeof(*out->items));
	ok = out->items != NULL;
	for (int i = 0; ok && i < n; i++) {
		out->count++;
		ok = read_row(res, i, &out->items[i]);
	}
	PQclear(res);
	if (!ok) {
		snprintf(err, size, "out of memory reading registrations");
		abacus_regs_free(out);
	}
	return ok;
}

/* Writing */

static void hash_hex(const uint8_t hash[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[hash[i] >> 4];
		out[2 * i + 1] = hex[hash[i] & 15];
	}
	out[64] = '\0';
}

bool abacus_registry_put_webhook(PGconn *conn, const char *reg_id,
                                 const char *deployment_id,
                                 const char *event_type, const uint8_t hash[32],
                                 const char *remote_id,
                                 const char *endpoint_shown, json_t *settings,
                                 char *err, size_t size)
{
	char hex[65];
	char *text = json_dumps(settings, JSON_COMPACT);
	const char *params[7] = { reg_id,    deployment_id,  event_type, hex,
		                  remote_id, endpoint_shown, text };
	bool ok;

	if (text == NULL) {
		snprintf(err, size, "out of memory");
		return false;
	}
	hash_hex(hash, hex);
	ok = db_exec_params(conn, put_webhook_sql, 7, params, err, size);
	free(text);
	return ok;
}

bool abacus_registry_put_alert(PGconn *conn, const char *reg_id,
                               const char *deployment_id, const char *name,
                               const char *remote_id, json_t *settings,
                               const char *last_version, char *err, size_t size)
{
	char *text = json_dumps(settings, JSON_COMPACT);
	const char *params[6] = { reg_id,    deployment_id, name,
		                  remote_id, text,          last_version };
	bool ok;

	if (text == NULL) {
		snprintf(err, size, "out of memory");
		return false;
	}
	ok = db_exec_params(conn, put_alert_sql, 6, params, err, size);
	free(text);
	return ok;
}

bool abacus_registry_delete(PGconn *conn, const char *reg_id, char *err,
                            size_t size)
{
	const char *params[1] = { reg_id };

	return db_exec_params(conn,
	                      "DELETE FROM registrations WHERE id = $1::uuid",
	                      1, params, err, size);
}

bool abacus_registry_set_version(PGconn *conn, const char *reg_id,
                                 const char *version, char *err, size_t size)
{
	const char *params[2] = { reg_id, version };

	return db_exec_params(conn,
	                      "UPDATE registrations SET last_version = $2,"
	                      " updated_at = now() WHERE id = $1::uuid",
	                      2, params, err, size);
}

/* Locks */

bool abacus_registry_lock(PGconn *conn, const char *key, bool wait, bool *got,
                          char *err, size_t size)
{
	char sql[96];
	PGresult *res;
	bool ok;

	/* pg_advisory_lock returns void: select true beside it. */
	snprintf(sql, sizeof(sql), "SELECT %s(%s)%s",
	         wait ? "pg_advisory_lock" : "pg_try_advisory_lock", key,
	         wait ? ", true" : "");
	res = PQexec(conn, sql);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (!ok)
		db_result_error(res, err, size);
	*got = ok && strcmp(PQgetvalue(res, 0, wait ? 1 : 0), "t") == 0;
	PQclear(res);
	return ok;
}

void abacus_registry_unlock(PGconn *conn, const char *key)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%s)", key);
	db_exec_quiet(conn, sql);
}
