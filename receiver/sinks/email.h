/*
 * What the email sink requires of its configuration, checked when the
 * configuration loads (so check-config and a reload refuse it, with the
 * file, line and column) and again when the sink opens.
 */
#ifndef HERALD_SINKS_EMAIL_H
#define HERALD_SINKS_EMAIL_H

#include <stdbool.h>
#include <stddef.h>

struct config_sink;

/*
 * Whether cfg's smtp_url, smtp_tls, from and to can work: a URL of
 * scheme smtp:// or smtps:// without a password, the TLS mode its scheme
 * means, and addresses in from and every to. If not, *key is the option
 * at fault (a static string) and err says why without naming it. The
 * URL is never quoted: it may hold a user name.
 */
bool email_check(const struct config_sink *cfg, const char **key, char *err,
                 size_t size) __attribute__((warn_unused_result));

#endif
