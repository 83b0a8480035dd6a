/*
 * The dispatcher's SQL against a real PostgreSQL: two owners take turns
 * on one delivery as leases run out, and every attempt counted ends up
 * with its row.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch/queries.h"
#include "store/migrate.h"
#include "support/tcheck.h"
#include "support/tpg.h"

#define DELIVERY "01900000-0000-7000-8000-000000000002"

static char *db;
static PGconn *conn;

static void setup(void)
{
	char err[512];

	db = tpg_create_db();
	conn = tpg_connect(db);
	cr_assert(migrate_apply(conn, migrate_embedded, migrate_embedded_count,
	                        NULL, NULL, err, sizeof(err)),
	          "%s", err);
	cr_assert(dq_prepare(conn, err, sizeof(err)), "%s", err);
	tpg_exec(conn, "INSERT INTO events (id, received_at, source,"
	               " event_type, payload) VALUES"
	               " ('01900000-0000-7000-8000-000000000001', now(), 'ci',"
	               " 'DEPLOYMENT_START', '{}')");
	tpg_exec(conn, "INSERT INTO deliveries (id, event_id, sink) VALUES"
	               " ('" DELIVERY "',"
	               " '01900000-0000-7000-8000-000000000001', 'hook')");
}

static void teardown(void)
{
	PQfinish(conn);
	tpg_drop_db(db);
	free(db);
}

TestSuite(queries, .init = setup, .fini = teardown, .timeout = 120);

/* Claim the delivery as owner with a lease of lease_ms; its attempt
 * number, or 0 if it was not claimed. */
static int claim_as(const char *owner, int64_t lease_ms)
{
	const char *sinks[] = { "hook" };
	int caps[] = { 1 };
	struct claim_row rows[1];
	PGresult *res = NULL;
	char err[256];
	int n = dq_claim(conn, sinks, caps, 1, lease_ms, owner, &res, rows, err,
	                 sizeof(err));
	int attempt;

	cr_assert_geq(n, 0, "%s", err);
	attempt = n == 1 ? rows[0].attempt : 0;
	PQclear(res);
	return attempt;
}

static void record_as(const char *owner, int attempt, const char *status,
                      const char *outcome)
{
	struct attempt_record r = { .delivery_id = DELIVERY,
		                    .attempt = attempt,
		                    .status = status,
		                    .started_us = 1,
		                    .duration_ms = 5,
		                    .outcome = outcome };
	char err[256];

	cr_assert(dq_record(conn, &r, 1, owner, err, sizeof(err)), "%s", err);
}

static void wait_lease_out(void)
{
	for (int waited = 0; waited < 10000; waited += 10) {
		if (tpg_value(conn, "SELECT count(*) FROM deliveries WHERE"
		                    " locked_until < now()") == 1)
			return;
		tsleep_ms(10);
	}
	cr_assert_fail("the lease did not run out");
}

Test(queries, a_lease_run_out_leaves_its_attempt_on_record)
{
	cr_assert_eq(claim_as("a", 1), 1);
	wait_lease_out();
	cr_assert_eq(claim_as("b", 60000), 2);
	cr_expect_eq(tpg_value(conn, "SELECT count(*) FROM delivery_attempts"
	                             " WHERE attempt = 1 AND outcome = 'retry'"
	                             " AND error LIKE 'outcome unknown%'"),
	             1);

	/* a was slow, not dead: its outcome replaces the guess but does not
	 * move the delivery, which b holds. */
	record_as("a", 1, "failed", "failed");
	cr_expect_eq(tpg_value(conn,
	                       "SELECT count(*) FROM delivery_attempts"
	                       " WHERE attempt = 1 AND outcome = 'failed'"),
	             1);
	cr_expect_eq(tpg_value(conn, "SELECT count(*) FROM deliveries WHERE"
	                             " status = 'pending' AND locked_by = 'b'"),
	             1);

	record_as("b", 2, "delivered", "delivered");
	cr_expect_eq(tpg_value(conn, "SELECT count(*) FROM deliveries WHERE"
	                             " status = 'delivered' AND attempts = 2"),
	             1);
	cr_expect_eq(tpg_value(conn, "SELECT count(*) FROM delivery_attempts"),
	             2);
}

/* A real outcome already recorded is never overwritten by a late
 * duplicate of it, nor by the lost-attempt guess. */
Test(queries, a_recorded_outcome_stays)
{
	cr_assert_eq(claim_as("a", 60000), 1);
	record_as("a", 1, "pending", "retry");
	record_as("a", 1, "delivered", "delivered");
	cr_expect_eq(tpg_value(conn, "SELECT count(*) FROM delivery_attempts"
	                             " WHERE outcome = 'retry'"),
	             1);
	cr_expect_eq(tpg_value(conn, "SELECT count(*) FROM delivery_attempts"),
	             1);
}
