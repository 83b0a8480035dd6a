/*
 * Templates on disk: files under one folder, found by name, compiled once
 * and kept, rendered with the escaping their file name calls for:
 *
 *   NAME.json  values escaped as JSON strings; the result must parse as
 *              JSON, or the render fails naming the template
 *   NAME.html  values HTML-escaped
 *   NAME.txt   nothing escaped
 *
 * and, for header fields (an email subject), nothing escaped but no value
 * can add a line. Partials ({{> name}}) are files of the same folder:
 * "name" is looked up as name, name.EXT with the including template's
 * extension, then name.txt.
 *
 * A store belongs to one thread (the dispatcher's, or a command).
 */
#ifndef HERALD_TEMPLATE_STORE_H
#define HERALD_TEMPLATE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct tmpl_store;

/* A store over dir; nothing is read until a template is asked for. */
struct tmpl_store *tmpl_store_new(const char *dir);
void tmpl_store_free(struct tmpl_store *s);

/*
 * Render template name (a path under the folder, "slack/default.json")
 * over data into *out (malloc'd, NUL-terminated, *len bytes). header
 * selects header-field escaping whatever the extension. False with the
 * reason in err, which names the template (and the line and column of a
 * syntax error).
 */
bool tmpl_store_render(struct tmpl_store *s, const char *name, json_t *data,
                       bool header, char **out, size_t *len, char *err,
                       size_t size) __attribute__((warn_unused_result));

/*
 * The default template of a sink kind for an event type and a part
 * ("json", "txt", "html", "subject.txt"): the first of
 * KIND/EVENT_TYPE.PART and KIND/default.PART that exists, written into
 * out. False if neither exists.
 */
bool tmpl_store_find(struct tmpl_store *s, const char *kind,
                     const char *event_type, const char *part, char *out,
                     size_t size);

#endif
