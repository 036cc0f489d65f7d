/*
 * no_entry.c -- test plugin: a shared object without the rpcrest entry
 * symbol.  rpcrest-host must refuse it with dlsym's reason.
 */
#include <rpcrest/rpcrest.h>

#include "echo.pb-c.h"

int no_entry_version(void);

int no_entry_version(void)
{
    return 1;
}
