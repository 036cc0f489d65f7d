/*
 * sup_reload_view.h -- what a new version of the INI changes for each child.
 *
 * Compares two loaded configurations key by key (rp_config's raw keys) plus
 * the identity of the files they name when each was loaded, so that a
 * rebuilt plugin counts as a change too.  Decides nothing else:
 * sup_reload.c carries the reload out.
 */
#ifndef SUP_RELOAD_VIEW_H
#define SUP_RELOAD_VIEW_H

#include <stddef.h>

#include "rp_config.h"

/* What child `which` (RP_CHILD_*) of a configuration depends on: the host
 * on [host] and every [service.*] with its plugin and descriptor files; the
 * gateway on [gateway] with its descriptor files, the [host] listen address
 * and every [service.*] with its descriptor file.  Restart-policy keys do
 * not count (they apply at once) but stop_timeout, by which the child plans
 * its own stop: the one in force for it, wherever it is set.  Files are recorded by identity (device, inode,
 * size, mtime) as they are now, so take the view when the configuration is
 * loaded.  NULL on ENOMEM. */
typedef struct sup_reload_view sup_reload_view;
sup_reload_view *sup_reload_view_of(const rp_config *cfg, int which);
void sup_reload_view_free(sup_reload_view *v);

/*
 * 1 if a child must be replaced to run the configuration of view `after`
 * rather than that of `before`, with the first difference ("[service.b]
 * added", "[gateway] listen changed", "[service.a] plugin file changed") in
 * why[whylen]; 0 if not.  A NULL view (out of memory) counts as a change.
 */
int sup_reload_changed(const sup_reload_view *before, const sup_reload_view *after, char *why,
                       size_t whylen);

#endif /* SUP_RELOAD_VIEW_H */
