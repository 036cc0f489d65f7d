/*
 * rpcrestctl.c -- asks a running rpcrestd to report or act:
 *
 *   rpcrestctl [-c FILE] status [--json] | metrics | start NAME | stop NAME |
 *              restart NAME | reload
 *
 * Finds rpcrestd's control socket through FILE's [supervisor]
 * control_socket, sends the request as one line and prints the answer.
 * Owns nothing but the command line; what a request does is rpcrestd's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "rp_addr.h"
#include "rp_config.h"

#define DEFAULT_CONFIG "conf/rpcrest.ini"
#define EX_FAILURE 1
#define ANSWER_TIMEOUT_S 10
#define READY_TIMEOUT_MAX_S 3600 /* the most [host] ready_timeout may be */

static void usage(FILE *out)
{
    fputs("usage: rpcrestctl [-c FILE] COMMAND\n"
          "\n"
          "Asks the rpcrestd running with FILE (default " DEFAULT_CONFIG ") to:\n"
          "  status [--json]  show each child: state, pid, uptime, restarts, last exit\n"
          "                   (exit status 3 if one is not RUNNING)\n"
          "  start NAME       start a stopped or FATAL child\n"
          "  stop NAME        stop a child and keep it down\n"
          "  restart NAME     replace a child (a hand-over when it is serving)\n"
          "  reload           re-read FILE and restart what it changes (like SIGHUP);\n"
          "                   a new host must get ready for it to take effect\n"
          "  metrics          rpcrestd's counters (starts, restarts, exits, FATAL, reloads)\n"
          "                   and each child's state, in the Prometheus text format\n"
          "NAME: rpcrest-host (host) or rpcrest-gateway (gateway).\n",
          out);
}

/* The control socket path of the INI at `path`, or NULL (reported), and
 * in *ready_s the longest a reload waits for new children to be ready: the
 * host's ready_timeout and then the gateway's when both parts change (the
 * sum of the INI's two), or the most they may be when the INI has an
 * error.  An INI with an error rpcrestd's running configuration may not
 * have still gives its [supervisor] control_socket; one that cannot be
 * read at all (a folder, a FIFO) gives nothing. */
static char *socket_path(const char *path, double *ready_s)
{
    char err[PATH_MAX + 256];
    *ready_s = 2 * READY_TIMEOUT_MAX_S;
    rp_config *cfg = rp_config_load(path, err, sizeof(err));
    if (cfg) {
        char *out = strdup(cfg->supervisor.control_socket);
        *ready_s = cfg->supervisor.child[RP_CHILD_HOST].ready_timeout +
                   cfg->supervisor.child[RP_CHILD_GATEWAY].ready_timeout;
        rp_config_free(cfg);
        return out;
    }
    char *value;
    if (rp_config_raw_value(path, "supervisor", "control_socket", &value, err,
                            sizeof(err)) < 0) {
        fprintf(stderr, "rpcrestctl: %s\n", err);
        return NULL;
    }
    char *real = realpath(path, NULL);
    if (!real) {
        fprintf(stderr, "rpcrestctl: %s: %s\n", path, strerror(errno));
        free(value);
        return NULL;
    }
    char *slash = strrchr(real, '/');
    *slash = '\0';
    char *out = NULL;
    if (value && value[0] == '/')
        out = strdup(value);
    else if (asprintf(&out, "%s/%s", real,
                      value && value[0] ? value : RP_CONTROL_SOCKET_NAME) < 0)
        out = NULL;
    free(value);
    free(real);
    return out;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A socket connected to rpcrestd's control socket at `path`, waiting up
 * to timeout_s to connect and then for each send and read; -1 (reported)
 * if there is none. */
static int connect_control(const char *path, int timeout_s)
{
    struct sockaddr_un sun;
    socklen_t slen;
    if (rp_addr_unix(path, 0, &sun, &slen) < 0) {
        fprintf(stderr, "rpcrestctl: %s: path too long for a unix socket\n", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "rpcrestctl: socket: %s\n", strerror(errno));
        return -1;
    }
    /* a unix socket's connect waits while rpcrestd's backlog is full (its
     * loop stopped or busy), as long as the send timeout allows */
    struct timeval tv = {.tv_sec = timeout_s};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sun, slen) < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            fprintf(stderr, "rpcrestctl: cannot connect to %s: rpcrestd did not accept within "
                    "%d s\n", path, timeout_s);
        else
            fprintf(stderr, "rpcrestctl: cannot connect to %s: %s%s\n", path, strerror(e),
                    e == ENOENT || e == ECONNREFUSED ? " (is rpcrestd running?)" : "");
        close(fd);
        return -1;
    }
    return fd;
}

/* Everything rpcrestd sends on fd until it closes it, NUL-terminated (the
 * caller frees it), or NULL (reported) if reading fails. */
static char *read_answer(int fd, const char *path)
{
    char *answer = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *grown = realloc(answer, cap);
            if (!grown) {
                fprintf(stderr, "rpcrestctl: out of memory\n");
                free(answer);
                return NULL;
            }
            answer = grown;
        }
        ssize_t n = read(fd, answer + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "rpcrestctl: no answer from %s: %s\n", path,
                    errno == EAGAIN ? "timed out" : strerror(errno));
            free(answer);
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    answer = answer ? answer : calloc(1, 1);
    if (answer)
        answer[len] = '\0';
    return answer;
}

/* Prints the body of rpcrestd's answer ("STATUS\nBODY") on stdout, or on
 * stderr when STATUS says the request failed, and frees it.  Returns
 * STATUS, the exit status. */
static int print_answer(const char *path, char *answer)
{
    char *body = strchr(answer, '\n');
    char *end;
    long status = strtol(answer, &end, 10);
    if (!body || end != body || status < 0 || status > 125) {
        fprintf(stderr, "rpcrestctl: %s answered something that is not an rpcrestd answer\n",
                path);
        free(answer);
        return EX_FAILURE;
    }
    body++;
    fputs(body, status == 0 || status == 3 ? stdout : stderr);
    free(answer);
    return (int)status;
}

/* Sends `request` and prints the answer, waiting up to timeout_s for it;
 * returns the exit status. */
static int ask(const char *path, const char *request, int timeout_s)
{
    int fd = connect_control(path, timeout_s);
    if (fd < 0)
        return EX_FAILURE;
    if (send_all(fd, request, strlen(request)) < 0 || send_all(fd, "\n", 1) < 0) {
        fprintf(stderr, "rpcrestctl: %s: %s\n", path, strerror(errno));
        close(fd);
        return EX_FAILURE;
    }
    char *answer = read_answer(fd, path);
    close(fd);
    return answer ? print_answer(path, answer) : EX_FAILURE;
}

int main(int argc, char **argv)
{
    const char *conf = DEFAULT_CONFIG;
    int json = 0;
    for (int i = 1; i < argc; i++) { /* --json may come anywhere */
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--;
            i--;
        }
    }
    int opt;
    while ((opt = getopt(argc, argv, "+c:h")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return RP_EX_USAGE;
        }
    }
    int n = argc - optind;
    char **args = argv + optind;
    const char *cmd = n > 0 ? args[0] : "";
    int named = strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
                strcmp(cmd, "restart") == 0;
    int bare = n == 1 && !json && (strcmp(cmd, "reload") == 0 || strcmp(cmd, "metrics") == 0);
    int ok = (strcmp(cmd, "status") == 0 && n == 1) || bare ||
             (named && n == 2 && !json);
    if (!ok) {
        if (n > 0)
            fprintf(stderr, "rpcrestctl: unknown or incomplete command\n");
        usage(stderr);
        return RP_EX_USAGE;
    }
    char request[512];
    snprintf(request, sizeof(request), "%s%s%s%s", cmd, n == 2 ? " " : "", n == 2 ? args[1] : "",
             json ? " --json" : "");
    if (strchr(request, '\n')) {
        fprintf(stderr, "rpcrestctl: a name has no newline\n");
        return RP_EX_USAGE;
    }
    double ready_s;
    char *path = socket_path(conf, &ready_s);
    if (!path)
        return EX_FAILURE;
    /* a reload that replaces a child answers once the new one is ready */
    int timeout_s = ANSWER_TIMEOUT_S + (strcmp(cmd, "reload") == 0 ? (int)ready_s + 1 : 0);
    int status = ask(path, request, timeout_s);
    free(path);
    return status;
}
