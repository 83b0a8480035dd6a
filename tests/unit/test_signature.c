/*
 * Standard Webhooks signatures: the reference test vector of
 * specs/standard-webhooks.md, rotation, timestamp tolerance and the
 * header forms a verifier meets.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "sources/signature.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TS     1614265330
#define TS_S   "1614265330"
#define BODY   "{\"test\": 2432232314}"
#define GOOD   "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define BAD    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="

static struct sig_secret key(const char *text)
{
	struct sig_secret s;

	cr_assert(sig_secret_parse(text, &s), "%s", text);
	return s;
}

static enum sig_result verify(const struct sig_secret *keys, size_t n,
                              const char *sig, int64_t now)
{
	return sig_verify(keys, n, ID, TS_S, sig, BODY, strlen(BODY), now);
}

Test(signature, reference_vector_signs_and_verifies)
{
	struct sig_secret s = key(SECRET);
	char sig[SIG_HEADER_MAX];

	sig_sign(&s, ID, TS, BODY, strlen(BODY), sig);
	cr_expect_str_eq(sig, GOOD);
	cr_expect_eq(verify(&s, 1, GOOD, TS), SIG_OK);
	cr_expect_eq(verify(&s, 1, BAD, TS), SIG_MISMATCH);
}

Test(signature, secret_without_prefix_is_the_same_key)
{
	struct sig_secret s = key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");

	cr_expect_eq(verify(&s, 1, GOOD, TS), SIG_OK);
	cr_expect_not(sig_secret_parse("whsec_not base64!", &s));
	cr_expect_not(sig_secret_parse("whsec_", &s));
}

Test(signature, rotation_accepts_any_configured_secret)
{
	struct sig_secret keys[2] = { key("whsec_bmV3LXNlY3JldC1rZXktMDAx"),
		                      key(SECRET) };

	cr_expect_eq(verify(keys, 2, GOOD, TS), SIG_OK);
	cr_expect_eq(verify(keys, 1, GOOD, TS), SIG_MISMATCH);
}

Test(signature, any_v1_entry_may_match)
{
	struct sig_secret s = key(SECRET);

	cr_expect_eq(verify(&s, 1, BAD " " GOOD, TS), SIG_OK);
	cr_expect_eq(verify(&s, 1, "v1a,abcd " GOOD, TS), SIG_OK);
	cr_expect_eq(
	    verify(&s, 1,
	           "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", TS),
	    SIG_NO_V1);
	cr_expect_eq(verify(&s, 1, "v1,not*base64", TS), SIG_NO_V1);
	cr_expect_eq(verify(&s, 1, "", TS), SIG_NO_V1);
}

Test(signature, timestamp_tolerance_is_five_minutes_either_way)
{
	struct sig_secret s = key(SECRET);

	cr_expect_eq(verify(&s, 1, GOOD, TS + 300), SIG_OK);
	cr_expect_eq(verify(&s, 1, GOOD, TS - 300), SIG_OK);
	cr_expect_eq(verify(&s, 1, GOOD, TS + 301), SIG_TOO_OLD);
	cr_expect_eq(verify(&s, 1, GOOD, TS - 301), SIG_TOO_NEW);
}

Test(signature, headers_are_all_required_and_checked)
{
	struct sig_secret s = key(SECRET);
	const char *b = BODY;

	cr_expect_eq(sig_verify(&s, 1, NULL, TS_S, GOOD, b, strlen(b), TS),
	             SIG_MISSING_HEADERS);
	cr_expect_eq(sig_verify(&s, 1, ID, NULL, GOOD, b, strlen(b), TS),
	             SIG_MISSING_HEADERS);
	cr_expect_eq(sig_verify(&s, 1, ID, TS_S, NULL, b, strlen(b), TS),
	             SIG_MISSING_HEADERS);
	cr_expect_eq(sig_verify(&s, 1, "a.b", TS_S, GOOD, b, strlen(b), TS),
	             SIG_BAD_ID);
	cr_expect_eq(sig_verify(&s, 1, ID, "16142x", GOOD, b, strlen(b), TS),
	             SIG_BAD_TIMESTAMP);
	cr_expect_eq(sig_verify(&s, 1, ID, "-1", GOOD, b, strlen(b), TS),
	             SIG_BAD_TIMESTAMP);
	/* The body is signed byte for byte. */
	cr_expect_eq(
	    sig_verify(&s, 1, ID, TS_S, GOOD, "{\"test\":2432232314}", 19, TS),
	    SIG_MISMATCH);
}
