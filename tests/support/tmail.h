/*
 * A mail message as a reader that is not Herald's sees it: Python's
 * email package parses the text the SMTP fake received, and its view
 * comes back as JSON, so headers and parts are checked independently of
 * receiver/sinks/mime.c.
 */
#ifndef HERALD_TEST_TMAIL_H
#define HERALD_TEST_TMAIL_H

#include <jansson.h>

/*
 * data parsed into {"subject", "from", "to", "message_id",
 * "auto_submitted", "date", "date_epoch" (seconds, or null when Date is
 * missing or unreadable), "type", "parts": [[content type, text], ...]
 * with LF line ends, "defects": [...]}. Fails the test if Python cannot
 * parse it. New reference.
 */
json_t *tmail_parse(const char *data);

#endif
