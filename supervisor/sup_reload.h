/*
 * sup_reload.h -- what a new version of the INI changes for each child.
 *
 * Compares two loaded configurations key by key (rp_config's raw keys) plus
 * the identity of the files they name, so that a rebuilt plugin counts as a
 * change too.  Decides nothing else: sup_main.c applies the reload.
 */
#ifndef SUP_RELOAD_H
#define SUP_RELOAD_H

#include <stddef.h>

#include "rp_config.h"

/*
 * 1 if child `which` (RP_CHILD_*) must be replaced to run `after` rather
 * than `before`, with the first difference ("[service.b] added",
 * "[gateway] listen") in why[whylen]; 0 if not.  The host depends on [host]
 * and every [service.*] with its plugin and descriptor files; the gateway on
 * [gateway], the [host] listen address and every [service.*] with its
 * descriptor file.  Restart-policy keys never count: they apply at once.
 */
int sup_reload_changed(const rp_config *before, const rp_config *after, int which, char *why,
                       size_t whylen);

/* The line of [section] key in cfg, or 0 if the key is not in the file. */
int sup_reload_line(const rp_config *cfg, const char *section, const char *key);

/* Where an error about [section] key points, in out[outlen]: "FILE:LINE",
 * or "FILE" for a key left at its default. */
void sup_reload_where(const rp_config *cfg, const char *section, const char *key, char *out,
                      size_t outlen);

#endif /* SUP_RELOAD_H */
