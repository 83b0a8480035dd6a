/*
 * The template data of an event (dispatch/message.h): every field, the
 * nulls for what an event lacks, the labels rule per source, and what
 * makes message_build refuse.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch/message.h"
#include "version.h"

static const struct message_event full = {
	.id = "0190a5c2-7d3e-7a1b-8c4d-5e6f70819a2b",
	.received_at = "2026-12-03T18:48:48.123Z",
	.source = "ci",
	.event_type = "DEPLOYMENT_FAILED",
	.deployment_id = "web-1",
	.severity = "critical",
	.idempotency_key = "msg_1",
	.payload = "{\"labels\": {\"team\": \"core\"}, \"n\": 3}",
	.headers = "{\"user-agent\": \"curl/8\"}",
};

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

Test(message, build_has_every_field)
{
	struct message_delivery d = { .id = "d-1",
		                      .attempt = 2,
		                      .sink = "ops" };
	json_t *m = message_build(&full, &d, "https://herald.example");
	json_t *delivery, *herald, *payload;

	cr_assert_not_null(m);
	cr_expect_str_eq(str(m, "id"), full.id);
	cr_expect_str_eq(str(m, "received_at"), full.received_at);
	cr_expect_str_eq(str(m, "source"), "ci");
	cr_expect_str_eq(str(m, "event_type"), "DEPLOYMENT_FAILED");
	cr_expect_str_eq(str(m, "deployment_id"), "web-1");
	cr_expect_str_eq(str(m, "severity"), "critical");
	cr_expect_str_eq(str(m, "idempotency_key"), "msg_1");

	payload = json_object_get(m, "payload");
	cr_expect_eq(json_integer_value(json_object_get(payload, "n")), 3);
	cr_expect_str_eq(str(json_object_get(m, "labels"), "team"), "core");
	cr_expect_str_eq(str(json_object_get(m, "headers"), "user-agent"),
	                 "curl/8");

	delivery = json_object_get(m, "delivery");
	cr_expect_str_eq(str(delivery, "id"), "d-1");
	cr_expect_eq(json_integer_value(json_object_get(delivery, "attempt")),
	             2);
	cr_expect_str_eq(str(delivery, "sink"), "ops");

	herald = json_object_get(m, "herald");
	cr_expect_str_eq(str(herald, "public_url"), "https://herald.example");
	cr_expect_str_eq(str(herald, "version"), HERALD_VERSION);
	json_decref(m);
}

Test(message, missing_fields_are_null_and_delivery_absent)
{
	struct message_event ev = {
		.id = "e-1",
		.received_at = "2026-12-03T18:48:48Z",
		.source = "abacus",
		.event_type = "DEPLOYMENT_START",
		.payload = "{}",
	};
	json_t *m = message_build(&ev, NULL, NULL);

	cr_assert_not_null(m);
	cr_expect(json_is_null(json_object_get(m, "deployment_id")));
	cr_expect(json_is_null(json_object_get(m, "severity")));
	cr_expect(json_is_null(json_object_get(m, "idempotency_key")));
	cr_expect_null(json_object_get(m, "delivery"));
	cr_expect(json_is_null(
	    json_object_get(json_object_get(m, "herald"), "public_url")));
	cr_expect(json_is_object(json_object_get(m, "headers")));
	cr_expect_eq(json_object_size(json_object_get(m, "headers")), 0);
	cr_expect(json_is_object(json_object_get(m, "labels")));
	cr_expect_eq(json_object_size(json_object_get(m, "labels")), 0);
	json_decref(m);
}

Test(message, payload_of_any_type_is_kept)
{
	struct message_event ev = full;
	json_t *m;

	ev.payload = "[1, \"two\"]";
	m = message_build(&ev, NULL, NULL);
	cr_assert_not_null(m);
	cr_expect_eq(json_array_size(json_object_get(m, "payload")), 2);
	json_decref(m);

	ev.payload = "\"text\"";
	m = message_build(&ev, NULL, NULL);
	cr_assert_not_null(m);
	cr_expect_str_eq(str(m, "payload"), "text");
	json_decref(m);
}

Test(message, refuses_text_that_is_not_json)
{
	struct message_event ev = full;

	ev.payload = "{\"a\": ";
	cr_expect_null(message_build(&ev, NULL, NULL));
	ev.payload = full.payload;
	ev.headers = "not json";
	cr_expect_null(message_build(&ev, NULL, NULL));
}

/* What the dispatcher records for an event it cannot build: which column
 * and jansson's reason; nothing for one it can. */
Test(message, says_why_it_refuses)
{
	struct message_event ev = full;
	char deep[4201], err[256] = "";

	cr_expect_not(message_unreadable(&full, err, sizeof(err)));
	memset(deep, '[', 2100);
	memset(deep + 2100, ']', 2100);
	deep[4200] = '\0';
	ev.payload = deep;
	cr_expect_null(message_build(&ev, NULL, NULL));
	cr_expect(message_unreadable(&ev, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "the stored payload cannot be read: "
	                               "maximum parsing depth reached"),
	                   "%s", err);
	ev.payload = full.payload;
	ev.headers = "not json";
	cr_expect(message_unreadable(&ev, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "the stored headers"), "%s", err);
}

Test(message, stray_bytes_in_a_string_are_replaced)
{
	struct message_event ev = full;
	json_t *m;

	ev.deployment_id = "web\xff-1";
	m = message_build(&ev, NULL, NULL);
	cr_assert_not_null(m);
	cr_expect_str_eq(str(m, "deployment_id"), "web\xef\xbf\xbd-1");
	json_decref(m);
}

Test(message, labels_per_source)
{
	json_t *am = json_loads("{\"alert\": {\"labels\": {\"alertname\":"
	                        " \"Down\"}}, \"labels\": {\"x\": \"top\"}}",
	                        0, NULL);
	json_t *gen = json_loads("{\"labels\": {\"team\": \"core\"}}", 0, NULL);
	json_t *bad = json_loads("{\"labels\": [\"a\"], \"alert\": {\"labels\":"
	                         " \"no\"}}",
	                         0, NULL);

	cr_assert(am && gen && bad);
	cr_expect_eq(message_labels("alertmanager", am),
	             json_object_get(json_object_get(am, "alert"), "labels"));
	cr_expect_eq(message_labels("ci", am), json_object_get(am, "labels"));
	cr_expect_eq(message_labels("abacus", gen),
	             json_object_get(gen, "labels"));
	cr_expect_null(message_labels("alertmanager", gen));
	cr_expect_null(message_labels("ci", bad));
	cr_expect_null(message_labels("alertmanager", bad));
	cr_expect_null(message_labels("ci", NULL));
	json_decref(am);
	json_decref(gen);
	json_decref(bad);
}

Test(message, alertmanager_labels_reach_the_data)
{
	struct message_event ev = {
		.id = "e-2",
		.received_at = "2026-12-03T18:48:48Z",
		.source = "alertmanager",
		.event_type = "MONITOR_ALERT",
		.payload = "{\"alert\": {\"labels\": {\"alertname\": \"Down\","
		           " \"severity\": \"page\"}}, \"notification\": {}}",
	};
	json_t *m = message_build(&ev, NULL, NULL);

	cr_assert_not_null(m);
	cr_expect_str_eq(str(json_object_get(m, "labels"), "alertname"),
	                 "Down");
	json_decref(m);
}
