/*
 * host_type_names.h -- one definition for each full type name across the
 * plugins' embedded descriptor sets.
 *
 * Two plugins may share a .proto file (the well-known types, google/api,
 * a common.proto of their own), but two different files may not define the
 * same full name: a service copied with its package kept defines
 * example.StringMessage a second time, and the gateway, which reads every
 * set into one schema, could not tell which one a request means.  Nor may
 * two plugins carry different files under one file name (two teams' own
 * common.proto): reflection serves one file of a name, the gateway reads
 * one, and the other plugin's messages would be read with its definitions.
 */
#ifndef HOST_TYPE_NAMES_H
#define HOST_TYPE_NAMES_H

#include "host_plugin.h"
#include "rp_config.h"

/* 0, or -1 after logging "FILE:LINE: [service.B] plugin PATH: type NAME
 * (in FILE.proto) is also defined by [service.A] ..." or "...: its
 * FILE.proto is not the FILE.proto of [service.A] ..." for the first
 * clash (or "out of memory"). */
int host_type_names_check(const host_plugins *ps, const rp_config *cfg);

#endif /* HOST_TYPE_NAMES_H */
