/*
 * fuzz_config.c -- libFuzzer target: loading an INI file (rp_config_load),
 * as rpcrestd, rpcrest-host and rpcrest-gateway do at start.
 *
 * Input: the file's bytes, written to rpcrest.ini in a private temporary
 * folder (removed at exit).  On success the derived values are read too.
 * rp_config_raw_value, what rpcrestctl falls back on, reads it first.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], ini[96];

static void remove_dir(void)
{
    unlink(ini);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "%s/rp-fuzz-config-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        snprintf(ini, sizeof(ini), "%s/rpcrest.ini", dir);
        atexit(remove_dir);
    }
    FILE *f = fopen(ini, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    char err[1024] = "";
    char *value;
    if (rp_config_raw_value(ini, "supervisor", "control_socket", &value, err, sizeof(err)) == 0)
        free(value);
    rp_config *cfg = rp_config_load(ini, err, sizeof(err));
    if (!cfg)
        return 0;
    char target[512];
    rp_config_gateway_target(cfg, target, sizeof(target));
    if (cfg->host.listen)
        rp_config_grpc_target(cfg->host.listen, target, sizeof(target));
    rp_config_free(cfg);
    return 0;
}
