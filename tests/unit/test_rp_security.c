/*
 * test_rp_security.c -- least privilege and TLS configuration:
 * [supervisor] user/group, the TLS file keys of [host] and [gateway] and
 * their FILE:LINE errors (common/rp_config.c), the PEM checks
 * (common/rp_tls.c, on certificates made here with openssl), and
 * common/rp_priv.c: StrictModes path checks, and switching to another user
 * (in a forked child, since it cannot be undone).
 *
 * Runs as root in CI (the switch test is skipped otherwise).  Each test
 * works in its own mkdtemp folder, removed after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rp_config.h"
#include "rp_priv.h"
#include "rp_tls.h"

#include "ini_fixture.h"

/* Files the tests add next to the INI; removed before teardown. */
static const char *const extra[] = {"ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem",
                                    "other.key", "junk.pem", "ca.srl", "plugin.so", "sub"};

static int setup_security(void **state)
{
    return setup(state);
}

static int teardown_security(void **state)
{
    fixture *f = *state;
    char cmd[PATH_MAX * 2];
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", f->dir, extra[i]);
        if (system(cmd) != 0)
            return -1;
    }
    return teardown(state);
}

/* Runs a shell command in f->dir; fails the test if it fails. */
static void sh(fixture *f, const char *cmd)
{
    char full[PATH_MAX + 1024];
    snprintf(full, sizeof(full), "cd '%s' && (%s) >/dev/null 2>&1", f->dir, cmd);
    if (system(full) != 0)
        fail_msg("command failed: %s", cmd);
}

/* A CA, and a server key and certificate it signed (IP 127.0.0.1). */
static void make_certs(fixture *f)
{
    sh(f, "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
          "-subj /CN=test-ca");
    sh(f, "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=srv");
    sh(f, "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && "
          "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
          "-extfile ext.cnf -out srv.pem && rm -f ext.cnf");
    sh(f, "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key");
    sh(f, "printf 'not a certificate\\n' > junk.pem");
    sh(f, "openssl pkey -in srv.key -aes256 -passout pass:secret -out enc.key");
}

/* ---- [supervisor] user and group ------------------------------------------ */

static void test_user_and_group_resolve(void **state)
{
    fixture *f = *state;
    struct passwd *pw = getpwnam("nobody");
    assert_non_null(pw);
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    rp_config *cfg = load_ok(f, "[supervisor]\nuser = nobody\n");
    assert_string_equal(cfg->supervisor.user, "nobody");
    assert_int_equal(cfg->supervisor.user_line, 2);
    assert_int_equal(cfg->supervisor.uid, uid);
    assert_int_equal(cfg->supervisor.gid, gid); /* the user's own group */
    assert_null(cfg->supervisor.group);
    rp_config_free(cfg);

    struct group *gr = getgrnam("nogroup");
    assert_non_null(gr);
    gid_t nogroup = gr->gr_gid;
    /* a number works too; group before user is fine */
    char text[128];
    snprintf(text, sizeof(text), "[supervisor]\ngroup = nogroup\nuser = %u\n", (unsigned)uid);
    cfg = load_ok(f, text);
    assert_string_equal(cfg->supervisor.user, "nobody");
    assert_string_equal(cfg->supervisor.group, "nogroup");
    assert_int_equal(cfg->supervisor.gid, nogroup);
    rp_config_free(cfg);

    cfg = load_ok(f, "[host]\n");
    assert_null(cfg->supervisor.user); /* default: no switch */
    rp_config_free(cfg);
}

static void test_unknown_user_or_group_is_a_config_error(void **state)
{
    fixture *f = *state;
    expect_error_at(f, "[supervisor]\nstop_timeout = 3\nuser = rpcrest-no-such-user\n", 3,
                    "user: no such user 'rpcrest-no-such-user'");
    expect_error_at(f, "[supervisor]\nuser = nobody\ngroup = rpcrest-no-such-group\n", 3,
                    "group: no such group 'rpcrest-no-such-group'");
    expect_error_at(f, "[supervisor]\ngroup = nogroup\n", 2, "[supervisor] group needs user");
    expect_error_at(f, "[host]\nuser = nobody\n", 2, "unknown key 'user' in [host]");
}

/* ---- TLS keys ----------------------------------------------------------------- */

static void test_tls_keys_need_their_pair(void **state)
{
    fixture *f = *state;
    make_certs(f);
    expect_error_at(f, "[host]\ncert = srv.pem\n", 2, "[host] cert is set but key is not");
    expect_error_at(f, "[host]\nkey = srv.key\n", 2, "[host] key is set but cert is not");
    expect_error_at(f, "[host]\nclient_ca = ca.pem\n", 2,
                    "[host] client_ca needs cert and key (TLS on the port)");
    expect_error_at(f, "[gateway]\nkey = srv.key\n", 2, "[gateway] key is set but cert is not");
    expect_error_at(f, "[gateway]\nupstream_cert = srv.pem\nupstream_key = srv.key\n", 2,
                    "[gateway] upstream_cert needs upstream_ca");
    expect_error_at(f, "[gateway]\nupstream_ca = ca.pem\nupstream_key = srv.key\n", 3,
                    "[gateway] upstream_key is set but upstream_cert is not");
    expect_error_at(f, "[host]\nlisten = unix:/tmp/x.sock\ncert = srv.pem\nkey = srv.key\n", 3,
                    "[host] cert: TLS is for a TCP listen address");
    expect_error_at(f, "[gateway]\ncert = missing.pem\nkey = srv.key\n", 2,
                    "cert: ");
    assert_non_null(strstr(f->err, "missing.pem: No such file or directory"));
    expect_error_at(f, "[gateway]\ncert =\n", 2, "cert: a PEM file is needed");
    expect_error_at(f, "[gateway]\nupstream_name = localhost\n", 2,
                    "[gateway] upstream_name needs upstream_ca");
    expect_error_at(f, "[gateway]\nupstream_ca = ca.pem\nupstream_name = a:1\n", 3,
                    "upstream_name: 'a:1' is not a host name or IP address");
    expect_error_at(f, "[host]\nprivate_listen = off\ncert = srv.pem\nkey = srv.key\n"
                       "[service.x]\nplugin = srv.pem\n", 3,
                    "the gateway would call the host's TLS port without TLS; set [gateway] "
                    "upstream_ca");
    rp_config *cfg = load_ok(f, "[gateway]\nupstream_ca = ca.pem\nupstream_name = localhost\n");
    assert_string_equal(cfg->gateway.upstream_name, "localhost");
    rp_config_free(cfg);
}

static void test_tls_keys_load_as_absolute_paths(void **state)
{
    fixture *f = *state;
    make_certs(f);
    rp_config *cfg = load_ok(f, "[host]\ncert = srv.pem\nkey = srv.key\nclient_ca = ca.pem\n"
                                "[gateway]\ncert = srv.pem\nkey = srv.key\n"
                                "upstream_ca = ca.pem\nupstream_cert = srv.pem\n"
                                "upstream_key = srv.key\n");
    char want[PATH_MAX + 16];
    snprintf(want, sizeof(want), "%s/srv.pem", f->dir);
    assert_string_equal(cfg->host.tls.cert, want);
    assert_string_equal(cfg->gateway.tls.cert, want);
    assert_string_equal(cfg->gateway.upstream_tls.cert, want);
    snprintf(want, sizeof(want), "%s/ca.pem", f->dir);
    assert_string_equal(cfg->host.tls.ca, want);
    assert_string_equal(cfg->gateway.upstream_tls.ca, want);
    assert_int_equal(cfg->host.tls.key_line, 3);
    assert_null(cfg->gateway.tls.ca);
    assert_int_equal(rp_tls_check(cfg, RP_TLS_ALL, f->err, sizeof(f->err)), 0);
    rp_tls_pem pem;
    assert_int_equal(rp_tls_pem_load(cfg, &cfg->host.tls, &pem, f->err, sizeof(f->err)), 0);
    assert_non_null(strstr(pem.cert, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(pem.key, "PRIVATE KEY-----"));
    assert_non_null(strstr(pem.ca, "-----BEGIN CERTIFICATE-----"));
    rp_tls_pem_free(&pem);
    assert_null(pem.key);
    rp_config_free(cfg);
}

/* Loads text (which must load) and expects rp_tls_check to refuse it with
 * "INI:line: what…". */
static void expect_tls_error(fixture *f, const char *text, int line, const char *what)
{
    rp_config *cfg = load_ok(f, text);
    int rc = rp_tls_check(cfg, RP_TLS_ALL, f->err, sizeof(f->err));
    rp_config_free(cfg);
    if (rc == 0)
        fail_msg("expected rp_tls_check to refuse:\n%s", text);
    char prefix[PATH_MAX + 32];
    snprintf(prefix, sizeof(prefix), "%s:%d: ", f->ini, line);
    if (strncmp(f->err, prefix, strlen(prefix)) != 0 || !strstr(f->err, what))
        fail_msg("expected '%s…%s', got '%s'", prefix, what, f->err);
}

static void test_tls_check_names_the_bad_file(void **state)
{
    fixture *f = *state;
    make_certs(f);
    expect_tls_error(f, "[gateway]\ncert = junk.pem\nkey = srv.key\n", 2,
                     "junk.pem: not a PEM certificate");
    expect_tls_error(f, "[gateway]\ncert = srv.pem\nkey = junk.pem\n", 3,
                     "junk.pem: not an unencrypted PEM private key");
    expect_tls_error(f, "[gateway]\ncert = srv.pem\nkey = enc.key\n", 3,
                     "enc.key: not an unencrypted PEM private key (it is encrypted)");
    expect_tls_error(f, "[gateway]\ncert = srv.pem\nkey = srv.pem\n", 3,
                     "srv.pem: not an unencrypted PEM private key (no BEGIN PRIVATE KEY block)");
    expect_tls_error(f, "[gateway]\ncert = srv.key\nkey = srv.key\n", 2,
                     "srv.key: not a PEM certificate (no BEGIN CERTIFICATE block)");
    expect_tls_error(f, "[host]\ncert = srv.pem\nkey = other.key\n", 3,
                     "key: ");
    assert_non_null(strstr(f->err, "other.key: the key does not match the certificate"));
    expect_tls_error(f, "[host]\ncert = srv.pem\nkey = srv.key\nclient_ca = junk.pem\n", 4,
                     "client_ca: ");
    expect_tls_error(f, "[gateway]\nupstream_ca = srv.key\n", 2,
                     "upstream_ca: ");
    /* a file too large to be read is named with its key too */
    sh(f, "head -c 1048577 /dev/zero > big.pem");
    expect_tls_error(f, "[host]\ncert = srv.pem\nkey = big.pem\n", 3, ": key: ");
    assert_non_null(strstr(f->err, "big.pem: larger than 1048576 bytes"));
    /* unreadable (for a user other than root: mode 000 stops only them) */
    if (geteuid() != 0) {
        sh(f, "chmod 000 srv.key");
        expect_tls_error(f, "[host]\ncert = srv.pem\nkey = srv.key\n", 3, "Permission denied");
    }
}

/* ---- StrictModes ----------------------------------------------------------------- */

static void test_strict_modes(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 32], sub[PATH_MAX + 16];
    snprintf(sub, sizeof(sub), "%s/sub", f->dir);
    snprintf(path, sizeof(path), "%s/sub/plugin.so", f->dir);
    sh(f, "mkdir -m 0755 sub && printf x > sub/plugin.so && chmod 0644 sub/plugin.so");
    /* /tmp (1777, root's) is on the way: sticky and root-owned is fine */
    assert_int_equal(rp_priv_check_path(path, f->err, sizeof(f->err)), 0);

    sh(f, "chmod o+w sub/plugin.so");
    assert_int_equal(rp_priv_check_path(path, f->err, sizeof(f->err)), -1);
    char want[PATH_MAX + 200];
    snprintf(want, sizeof(want), "%s is writable by others (mode 0646)", path);
    assert_non_null(strstr(f->err, want));
    sh(f, "chmod o-w sub/plugin.so && chmod g+w sub");
    assert_int_equal(rp_priv_check_path(path, f->err, sizeof(f->err)), -1);
    snprintf(want, sizeof(want), "folder %s is writable by its group (mode 0775)", sub);
    assert_non_null(strstr(f->err, want));
    /* the sticky bit does not excuse the file's own folder unless root owns it */
    sh(f, "chmod 1777 sub");
    if (geteuid() == 0) {
        assert_int_equal(rp_priv_check_path(path, f->err, sizeof(f->err)), 0);
        sh(f, "chown 65534 sub");
        assert_int_equal(rp_priv_check_path(path, f->err, sizeof(f->err)), -1);
        snprintf(want, sizeof(want), "folder %s is owned by uid 65534, neither root nor uid 0",
                 sub);
        assert_non_null(strstr(f->err, want));
        sh(f, "chown 0 sub && chmod 0755 sub && chown 65534 sub/plugin.so");
        assert_int_equal(rp_priv_check_path(path, f->err, sizeof(f->err)), -1);
        assert_non_null(strstr(f->err, "owned by uid 65534"));
    }
    sh(f, "rm -rf sub");
    assert_int_equal(rp_priv_check_path(path, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "No such file or directory"));
    assert_int_equal(rp_priv_check_path("relative.so", f->err, sizeof(f->err)), -1);
}

/* ---- switching users ----------------------------------------------------------- */

static void test_drop_switches_for_good(void **state)
{
    fixture *f = *state;
    if (geteuid() != 0) {
        skip();
        return;
    }
    rp_config *cfg = load_ok(f, "[supervisor]\nuser = nobody\ngroup = nogroup\n");
    rp_config *as_root = load_ok(f, "[supervisor]\nuser = root\n");
    assert_int_equal(rp_priv_check(cfg, f->err, sizeof(f->err)), 0);
    setenv("XDG_RUNTIME_DIR", "/run/user/0", 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[512];
        int step = 1;
        if (rp_priv_drop(cfg, err, sizeof(err)) != 1)
            _exit(step);
        step++;
        uid_t r, e, s;
        gid_t rg, eg, sg;
        if (getresuid(&r, &e, &s) < 0 || r != cfg->supervisor.uid || e != r || s != r)
            _exit(step);
        step++;
        if (getresgid(&rg, &eg, &sg) < 0 || rg != cfg->supervisor.gid || eg != rg || sg != rg)
            _exit(step);
        step++;
        gid_t groups[64];
        int n = getgroups(64, groups);
        for (int i = 0; i < n; i++)
            if (groups[i] == 0)
                _exit(step); /* root's group is gone */
        step++;
        if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
            _exit(step);
        step++;
        if (getenv("XDG_RUNTIME_DIR"))
            _exit(step);
        step++;
        /* a second call is a no-op; switching back is refused, and said so */
        if (rp_priv_drop(cfg, err, sizeof(err)) != 0)
            _exit(step);
        step++;
        if (rp_priv_check(as_root, err, sizeof(err)) != -1 ||
            !strstr(err, "runs as uid 65534, not root, so it cannot switch to root"))
            _exit(step);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unsetenv("XDG_RUNTIME_DIR");
    rp_config_free(cfg);
    rp_config_free(as_root);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the child failed at step %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Self-signed certificates for 2020-01-01..2020-02-01 and 2040-01-01..2040-02-01. */
static const char EXPIRED_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBCzCBs6ADAgECAgEBMAoGCCqGSM49BAMCMBAxDjAMBgNVBAMMBWRhdGVzMB4X\n"
    "DTIwMDEwMTAwMDAwMFoXDTIwMDIwMTAwMDAwMFowEDEOMAwGA1UEAwwFZGF0ZXMw\n"
    "WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARGVsfBEu9dMYRMW8dc9OMOqdGJFo70\n"
    "ECGKFAhpW3N/Yaj2ud+gEZSXIpG6UXlkchRFvHN4Ra0Hie6ezwtqwhWrMAoGCCqG\n"
    "SM49BAMCA0cAMEQCIHppZNheJEzj/5N/G65MrhPHhVBX3fQLl3dO8kn6FB3FAiB+\n"
    "Hj2EIbDvSoGNFTPut9N7y1U4U1CFJo7gl8QrxqMv2A==\n"
    "-----END CERTIFICATE-----\n";
static const char FUTURE_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBDDCBs6ADAgECAgEBMAoGCCqGSM49BAMCMBAxDjAMBgNVBAMMBWRhdGVzMB4X\n"
    "DTQwMDEwMTAwMDAwMFoXDTQwMDIwMTAwMDAwMFowEDEOMAwGA1UEAwwFZGF0ZXMw\n"
    "WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARGVsfBEu9dMYRMW8dc9OMOqdGJFo70\n"
    "ECGKFAhpW3N/Yaj2ud+gEZSXIpG6UXlkchRFvHN4Ra0Hie6ezwtqwhWrMAoGCCqG\n"
    "SM49BAMCA0gAMEUCIQD1tdtew7jjjC+4QbvvHxfdiUEceauUmEcyff0szb0z6wIg\n"
    "Ri1TxsQlfGZ0Svj0JkXSdbPVxbAdq2vRT3/UBCh2JzY=\n"
    "-----END CERTIFICATE-----\n";

/* A certificate out of its dates is loaded all the same (clocks differ, a
 * renewed file may be on its way), with a warning that says which date. */
static void test_tls_dates(void **state)
{
    (void)state;
    char why[128];
    assert_int_equal(rp_tls_dates(EXPIRED_PEM, why, sizeof(why)), -1);
    assert_string_equal(why, "expired on 2020-02-01 00:00:00 UTC");
    assert_int_equal(rp_tls_dates(FUTURE_PEM, why, sizeof(why)), -1);
    assert_string_equal(why, "not valid before 2040-01-01 00:00:00 UTC");
    assert_int_equal(rp_tls_dates("not a certificate", why, sizeof(why)), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_security, teardown_security)
    const struct CMUnitTest tests[] = {
        T(test_user_and_group_resolve),
        T(test_unknown_user_or_group_is_a_config_error),
        T(test_tls_keys_need_their_pair),
        T(test_tls_keys_load_as_absolute_paths),
        T(test_tls_check_names_the_bad_file),
        T(test_tls_dates),
        T(test_strict_modes),
        T(test_drop_switches_for_good),
    };
#undef T
    return cmocka_run_group_tests_name("rp_security", tests, NULL, NULL);
}
