/*
 * host_protos.h -- the descriptor set of the gRPC protos the host serves
 * itself (grpc/reflection/v1, grpc/reflection/v1alpha, grpc/health/v1),
 * embedded at build time (the Makefile's $(G)/grpc/builtin.pb).
 */
#ifndef HOST_PROTOS_H
#define HOST_PROTOS_H

#include <stddef.h>
#include <stdint.h>

/* Sets *data to the serialized FileDescriptorSet (static, read-only) and
 * returns its size. */
size_t host_protos_descriptor_set(const uint8_t **data);

#endif /* HOST_PROTOS_H */
