/*
 * The template store: maps names under one folder to files, reads each
 * file once and keeps its text (and, once rendered as a template, its
 * compiled form) for the life of the store, then renders with the escape
 * mode the name calls for and checks that a .json result is JSON.
 *
 * Only files that exist are kept, so event types that have no template
 * of their own cost a failed open each time but never grow the store.
 * Files changed on disk are not read again: a reload makes a new store.
 */
#include "template/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "template/mustache.h"

/* One file read from the folder. */
struct tmpl_file {
	char *name;
	char *text; /* NUL-terminated; a partial's text is lent from here */
	size_t len;
	struct tmpl *compiled; /* NULL until rendered as a template */
	struct tmpl_file *next;
};

struct tmpl_store {
	char *dir;
	struct tmpl_file *files;
};

enum store_read {
	STORE_FOUND,
	STORE_MISSING,
	STORE_ERROR,
};

/* What the partial callback needs, and the first error it met: the
 * renderer cannot be told of one, so it is checked after the render. */
struct store_render {
	struct tmpl_store *s;
	const char *name; /* the template rendered */
	const char *ext;  /* its extension, or NULL */
	char err[512];
};

static bool store_fail(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool store_fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (size == 0)
		return false;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return false;
}

struct tmpl_store *tmpl_store_new(const char *dir)
{
	struct tmpl_store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->dir = strdup(dir);
	if (s->dir == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void tmpl_store_free(struct tmpl_store *s)
{
	struct tmpl_file *f, *next;

	if (s == NULL)
		return;
	for (f = s->files; f != NULL; f = next) {
		next = f->next;
		tmpl_free(f->compiled);
		free(f->text);
		free(f->name);
		free(f);
	}
	free(s->dir);
	free(s);
}

/*
 * Names come from the configuration and from templates, so they are
 * relative paths that stay inside the folder: not absolute, no ".."
 * component, no empty name.
 */
static bool store_check_name(const char *name, char *err, size_t size)
{
	const char *p = name;

	if (*name == '\0')
		return store_fail(err, size, "empty template name");
	if (*name == '/')
		return store_fail(err, size,
		                  "template name \"%s\" is absolute: names "
		                  "stay under the templates folder",
		                  name);
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return store_fail(err, size,
			                  "template name \"%s\" has a \"..\" "
			                  "component: names stay under the "
			                  "templates folder",
			                  name);
		p += n;
		p += *p == '/';
	}
	return true;
}

static struct tmpl_file *store_cached(struct tmpl_store *s, const char *name)
{
	for (struct tmpl_file *f = s->files; f != NULL; f = f->next) {
		if (strcmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}

/* Read all of fd, a regular file of size bytes. */
static char *store_slurp(int fd, size_t size, size_t *len, const char *name,
                         char *err, size_t errsize)
{
	char *text;
	size_t got = 0;

	if (size > TMPL_TEXT_MAX) {
		store_fail(err, errsize, "template %s: larger than %d bytes",
		           name, TMPL_TEXT_MAX);
		return NULL;
	}
	text = malloc(size + 1);
	if (text == NULL) {
		store_fail(err, errsize, "template %s: out of memory", name);
		return NULL;
	}
	while (got < size) {
		ssize_t n = read(fd, text + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			store_fail(err, errsize, "template %s: %s", name,
			           strerror(errno));
			free(text);
			return NULL;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	*len = got;
	return text;
}

/* Open dir/name for reading; -1 with errno set, ENOENT for anything that
 * is not a regular file (a folder is not a template). */
static int store_open(const struct tmpl_store *s, const char *name,
                      size_t *size)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->dir, name) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* O_NONBLOCK: a FIFO put there by mistake must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	*size = (size_t)st.st_size;
	return fd;
}

static enum store_read store_load(struct tmpl_store *s, const char *name,
                                  struct tmpl_file **out, char *err,
                                  size_t errsize)
{
	struct tmpl_file *f;
	size_t size = 0;
	int fd = store_open(s, name, &size);

	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return STORE_MISSING;
	if (fd < 0) {
		store_fail(err, errsize,
		           "template %s: cannot open it in %s: %s", name,
		           s->dir, strerror(errno));
		return STORE_ERROR;
	}

	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->name = strdup(name)) == NULL) {
		store_fail(err, errsize, "template %s: out of memory", name);
		free(f);
		close(fd);
		return STORE_ERROR;
	}
	f->text = store_slurp(fd, size, &f->len, name, err, errsize);
	close(fd);
	if (f->text == NULL) {
		free(f->name);
		free(f);
		return STORE_ERROR;
	}

	f->next = s->files;
	s->files = f;
	*out = f;
	return STORE_FOUND;
}

/* The file called name, from the store or the folder. */
static enum store_read store_get(struct tmpl_store *s, const char *name,
                                 struct tmpl_file **out, char *err, size_t size)
{
	*out = store_cached(s, name);
	if (*out != NULL)
		return STORE_FOUND;
	return store_load(s, name, out, err, size);
}

/* The extension of the last component of name ("json"), or NULL. */
static const char *store_ext(const char *name)
{
	const char *base = strrchr(name, '/');
	const char *dot;

	base = base ? base + 1 : name;
	dot = strrchr(base, '.');
	return dot != NULL && dot != base ? dot + 1 : NULL;
}

static enum tmpl_escape store_mode(const char *ext, bool header)
{
	if (header)
		return TMPL_ESCAPE_HEADER;
	if (ext != NULL && strcmp(ext, "json") == 0)
		return TMPL_ESCAPE_JSON;
	if (ext != NULL && strcmp(ext, "html") == 0)
		return TMPL_ESCAPE_HTML;
	return TMPL_ESCAPE_NONE;
}

/* Try one candidate name of a partial; remembers an error in r. */
static const char *store_partial_try(struct store_render *r,
                                     const char *candidate)
{
	struct tmpl_file *f;
	char err[256];

	switch (store_get(r->s, candidate, &f, err, sizeof(err))) {
	case STORE_FOUND: return f->text;
	case STORE_MISSING: return NULL;
	case STORE_ERROR: break;
	}
	if (r->err[0] == '\0')
		snprintf(r->err, sizeof(r->err), "template %s: partial: %s",
		         r->name, err);
	return NULL;
}

/* A partial is name itself, else name.EXT of the template rendered, else
 * name.txt; one that is not found renders as nothing, as Mustache says. */
static const char *store_partial(const char *name, void *arg)
{
	struct store_render *r = arg;
	char err[256], candidates[3][PATH_MAX];
	size_t n = 0;

	if (!store_check_name(name, err, sizeof(err))) {
		if (r->err[0] == '\0')
			snprintf(r->err, sizeof(r->err),
			         "template %s: partial: %s", r->name, err);
		return NULL;
	}

	snprintf(candidates[n++], PATH_MAX, "%s", name);
	if (r->ext != NULL)
		snprintf(candidates[n++], PATH_MAX, "%s.%s", name, r->ext);
	if (r->ext == NULL || strcmp(r->ext, "txt") != 0)
		snprintf(candidates[n++], PATH_MAX, "%s.txt", name);

	for (size_t i = 0; i < n; i++) {
		const char *text = store_partial_try(r, candidates[i]);

		if (text != NULL || r->err[0] != '\0')
			return text;
	}
	return NULL;
}

/* The file called name, compiled. */
static struct tmpl_file *store_template(struct tmpl_store *s, const char *name,
                                        char *err, size_t size)
{
	struct tmpl_file *f;
	char why[256];

	switch (store_get(s, name, &f, err, size)) {
	case STORE_FOUND: break;
	case STORE_MISSING:
		store_fail(err, size, "template %s: not found in %s", name,
		           s->dir);
		return NULL;
	case STORE_ERROR: return NULL;
	}
	if (f->compiled == NULL) {
		f->compiled = tmpl_compile(f->text, f->len, why, sizeof(why));
		if (f->compiled == NULL) {
			store_fail(err, size, "template %s: %s", name, why);
			return NULL;
		}
	}
	return f;
}

/* A .json template must give JSON, or the receiver would get garbage. */
static bool store_check_json(const char *name, const char *out, size_t len,
                             char *err, size_t size)
{
	json_error_t jerr;
	json_t *j = json_loadb(out, len, JSON_DECODE_ANY, &jerr);

	if (j != NULL) {
		json_decref(j);
		return true;
	}
	return store_fail(err, size,
	                  "template %s: the result is not JSON: line %d, "
	                  "column %d: %s",
	                  name, jerr.line, jerr.column, jerr.text);
}

bool tmpl_store_render(struct tmpl_store *s, const char *name, json_t *data,
                       bool header, char **out, size_t *len, char *err,
                       size_t size)
{
	struct store_render r = { .s = s, .name = name, .ext = NULL };
	struct tmpl_file *f;
	enum tmpl_escape mode;
	char why[256];
	bool rendered, ok;

	*out = NULL;
	*len = 0;
	if (!store_check_name(name, err, size))
		return false;
	f = store_template(s, name, err, size);
	if (f == NULL)
		return false;

	r.ext = store_ext(name);
	mode = store_mode(r.ext, header);
	rendered = tmpl_render(f->compiled, data, mode, store_partial, &r, out,
	                       len, why, sizeof(why));

	/* A partial's error comes first: it is why the rest went wrong. */
	if (r.err[0] != '\0')
		ok = store_fail(err, size, "%s", r.err);
	else if (!rendered)
		ok = store_fail(err, size, "template %s: %s", name, why);
	else if (mode == TMPL_ESCAPE_JSON)
		ok = store_check_json(name, *out, *len, err, size);
	else
		ok = true;
	if (!ok) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return ok;
}

/* Whether name is a file of the store, read or not yet. */
static bool store_exists(struct tmpl_store *s, const char *name)
{
	size_t size;
	int fd;

	if (store_cached(s, name) != NULL)
		return true;
	fd = store_open(s, name, &size);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Write KIND/STEM.PART into out if that is a file of the store. */
static bool store_find_one(struct tmpl_store *s, const char *kind,
                           const char *stem, const char *part, char *out,
                           size_t size)
{
	char err[256];

	if ((size_t)snprintf(out, size, "%s/%s.%s", kind, stem, part) >= size)
		return false;
	return store_check_name(out, err, sizeof(err)) && store_exists(s, out);
}

bool tmpl_store_find(struct tmpl_store *s, const char *kind,
                     const char *event_type, const char *part, char *out,
                     size_t size)
{
	/* An event type comes from outside: it may pick a file of the
	 * kind's folder, never a path. */
	bool typed = event_type != NULL && *event_type != '\0' &&
	             strchr(event_type, '/') == NULL;

	if (typed && store_find_one(s, kind, event_type, part, out, size))
		return true;
	if (store_find_one(s, kind, "default", part, out, size))
		return true;
	if (size > 0)
		out[0] = '\0';
	return false;
}
