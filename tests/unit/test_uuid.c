#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "util/uuid.h"

Test(uuid, version_variant_and_time)
{
	struct uuid u;
	char s[UUID_STR_LEN + 1];
	time_t now = time(NULL);
	uint64_t ms;

	cr_assert(uuid_v7(&u));
	uuid_format(&u, s);
	cr_expect_eq(strlen(s), 36);
	cr_expect_eq(s[14], '7', "%s", s);
	cr_expect(strchr("89ab", s[19]) != NULL, "%s", s);
	ms = uuid_v7_millis(&u);
	cr_expect((time_t)(ms / 1000) >= now - 1 &&
	          (time_t)(ms / 1000) <= now + 1);
}

Test(uuid, ids_of_one_thread_are_ordered)
{
	char prev[UUID_STR_LEN + 1] = "", cur[UUID_STR_LEN + 1];

	for (int i = 0; i < 100000; i++) {
		struct uuid u;

		cr_assert(uuid_v7(&u));
		uuid_format(&u, cur);
		cr_assert(strcmp(prev, cur) < 0, "%s then %s", prev, cur);
		memcpy(prev, cur, sizeof(cur));
	}
}

Test(uuid, parse_round_trips_and_refuses)
{
	struct uuid u, v;
	char s[UUID_STR_LEN + 1];

	cr_assert(uuid_v7(&u));
	uuid_format(&u, s);
	cr_assert(uuid_parse(s, &v));
	cr_expect_eq(memcmp(u.b, v.b, 16), 0);
	cr_expect(uuid_parse("0190A2B4-1C2D-7E3F-8A4B-5C6D7E8F9A0B", &v));
	cr_expect_not(uuid_parse("0190a2b4-1c2d-7e3f-8a4b-5c6d7e8f9a0", &v));
	cr_expect_not(uuid_parse("0190a2b4-1c2d-7e3f-8a4b-5c6d7e8f9a0bb", &v));
	cr_expect_not(uuid_parse("0190a2b4x1c2d-7e3f-8a4b-5c6d7e8f9a0b", &v));
	cr_expect_not(uuid_parse("0190a2b4-1c2d-7e3f-8a4b-5c6d7e8f9a0g", &v));
	cr_expect_not(uuid_parse("", &v));
}
