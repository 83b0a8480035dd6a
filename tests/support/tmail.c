#include "support/tmail.h"

#include <criterion/criterion.h>
#include <stdlib.h>

#include "support/tcheck.h"

#define PYTHON "/usr/bin/python3"

static const char script[] =
    "import email, email.utils, json, sys\n"
    "from email import policy\n"
    "m = email.message_from_string(sys.stdin.read(),"
    " policy=policy.default)\n"
    "parts = [[p.get_content_type(),"
    " p.get_content().replace('\\r\\n', '\\n')]"
    " for p in m.walk() if not p.is_multipart()]\n"
    "defects = [str(d) for p in m.walk() for d in p.defects]\n"
    "try:\n"
    "    when = email.utils.parsedate_to_datetime(str(m['date']))"
    ".timestamp()\n"
    "except (TypeError, ValueError):\n"
    "    when = None\n"
    "print(json.dumps({'subject': str(m['subject']),"
    " 'from': str(m['from']), 'to': str(m['to']),"
    " 'message_id': str(m['message-id']),"
    " 'auto_submitted': str(m['auto-submitted']),"
    " 'date': str(m['date']), 'date_epoch': when,"
    " 'type': m.get_content_type(),"
    " 'parts': parts, 'defects': defects}))\n";

json_t *tmail_parse(const char *data)
{
	const char *argv[] = { PYTHON, "-c", script, NULL };
	char *out = NULL, *err = NULL;
	json_error_t e;
	json_t *j;

	cr_assert_eq(trun(argv, data, &out, &err, false), 0, "%s", err);
	j = json_loads(out, 0, &e);
	cr_assert(j != NULL, "%s: %s", e.text, out);
	free(out);
	free(err);
	return j;
}
