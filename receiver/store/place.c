#include "store/place.h"

#include <string.h>

#include "config/config.h"

bool db_place_open(struct db_place *p, const struct config *cfg, char *err,
                   size_t size)
{
	memset(p, 0, sizeof(*p));
	p->target.password = cfg->database.password;
	p->target.connect_timeout_ms = cfg->database.connect_timeout_ms;
	if (cfg->database.url != NULL) {
		p->target.conninfo = cfg->database.url;
		return true;
	}
	if (!embedded_start(&p->embedded, cfg, err, size))
		return false;
	p->is_embedded = true;
	p->target.conninfo = p->embedded.conninfo;
	return true;
}

void db_place_close(struct db_place *p)
{
	if (p->is_embedded)
		embedded_stop(&p->embedded);
	p->is_embedded = false;
}
