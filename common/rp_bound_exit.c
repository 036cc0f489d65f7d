/*
 * rp_bound_exit.c -- the alarm that ends a failed start's teardown (see
 * rp_bound_exit.h).  The message and status are kept here, written before
 * the alarm is armed: the handler may only read them.
 */
#include "rp_bound_exit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char message[160];
static size_t message_len;
static volatile sig_atomic_t exit_status;

static void on_alarm(int sig)
{
    (void)sig;
    (void)!write(STDERR_FILENO, message, message_len);
    _exit(exit_status);
}

void rp_bound_exit_arm(int status)
{
    int n = snprintf(message, sizeof(message),
                     "%s: stopping after a failed start took over %d s (gRPC core waits for "
                     "a thread that never started?): exiting with status %d\n",
                     program_invocation_short_name, RP_BOUND_EXIT_S, status);
    message_len = n > 0 ? ((size_t)n < sizeof(message) ? (size_t)n : sizeof(message) - 1) : 0;
    exit_status = status;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
    alarm(RP_BOUND_EXIT_S);
}

void rp_bound_exit_disarm(void)
{
    alarm(0);
}
