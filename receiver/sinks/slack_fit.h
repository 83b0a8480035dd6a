/*
 * Slack's limits on Block Kit texts, applied to a rendered message before
 * it is sent. Slack refuses a whole message with one text over its limit
 * (400 invalid_blocks), which would fail the delivery for good, so an
 * event whose payload says too much is cut instead: the text keeps what
 * fits and ends in "…", which shows the reader where the cut is.
 *
 * Lengths are counted as Slack counts them, in UTF-16 code units (a
 * character beyond U+FFFF counts twice), and cuts fall between
 * characters.
 */
#ifndef HERALD_SINKS_SLACK_FIT_H
#define HERALD_SINKS_SLACK_FIT_H

#include <stddef.h>

#define SLACK_HEADER_MAX 150  /* the text of a header block */
#define SLACK_FIELD_MAX  2000 /* each field of a section block */
#define SLACK_TEXT_MAX   3000 /* any other block text */

/*
 * Cut every block text of the JSON message in *body (len bytes) that is
 * over its limit. When something is cut, *body is replaced by the new
 * text (malloc'd; the old one is freed) and *len by its length. Returns
 * how many texts were cut, or -1 when memory ran out (body untouched).
 * A body that is not a JSON object is left alone: there are no blocks
 * to fit.
 */
int slack_fit_blocks(char **body, size_t *len)
    __attribute__((warn_unused_result));

/* The length of the UTF-8 text s in UTF-16 code units. */
size_t slack_fit_length(const char *s);

#endif
