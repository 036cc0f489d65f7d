/*
 * test_gw_accept.c -- gateway/gw_accept.c's count of each loop's
 * connections, which decides the loop a new connection goes to, whatever
 * libmicrohttpd answers when a connection is added.
 *
 * The test is both loops: it ticks their sources itself.  MHD_add_connection
 * is wrapped (-Wl,--wrap=MHD_add_connection) to play a daemon that accepts,
 * refuses outright (max_connections, no memory), or reports the connection
 * started and closed and then refuses it, as libmicrohttpd 0.9.75 does when
 * epoll_ctl fails.  gw_loop_update and gw_loop_wake are wrapped too: there
 * is no loop to update or wake.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../gateway/gw_accept.h"

enum daemon_answer { ACCEPT, REFUSE, START_CLOSE_REFUSE };

/* The two fake daemons: their address tells the loop. */
static struct {
    char daemon[2];
    enum daemon_answer answer;
    gw_accept *accept;
    int added_to[2];
} fake;

static size_t loop_of(struct MHD_Daemon *daemon)
{
    return (size_t)((char *)daemon - fake.daemon);
}

enum MHD_Result __wrap_MHD_add_connection(struct MHD_Daemon *daemon, MHD_socket fd,
                                          const struct sockaddr *addr, socklen_t addr_len);
enum MHD_Result __wrap_MHD_add_connection(struct MHD_Daemon *daemon, MHD_socket fd,
                                          const struct sockaddr *addr, socklen_t addr_len)
{
    (void)addr, (void)addr_len;
    size_t i = loop_of(daemon);
    switch (fake.answer) {
    case ACCEPT:
        gw_accept_opened(fake.accept, i);
        fake.added_to[i]++;
        close(fd); /* the test keeps the count, not the connection */
        return MHD_YES;
    case START_CLOSE_REFUSE:
        gw_accept_opened(fake.accept, i);
        gw_accept_closed(fake.accept, i);
        break;
    case REFUSE:
        break;
    }
    close(fd);
    return MHD_NO;
}

void __wrap_gw_loop_update(gw_loop *loop);
void __wrap_gw_loop_update(gw_loop *loop)
{
    (void)loop;
}

void __wrap_gw_loop_wake(gw_loop *loop);
void __wrap_gw_loop_wake(gw_loop *loop)
{
    (void)loop;
}

typedef struct fixture {
    int listen_fd;
    struct sockaddr_in addr;
    gw_accept *accept;
    gw_loop_source *src[2];
} fixture;

static int setup(void **state)
{
    static fixture f;
    f.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(f.listen_fd >= 0);
    f.addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f.listen_fd, (struct sockaddr *)&f.addr, sizeof(f.addr)), 0);
    socklen_t len = sizeof(f.addr);
    assert_int_equal(getsockname(f.listen_fd, (struct sockaddr *)&f.addr, &len), 0);
    assert_int_equal(listen(f.listen_fd, 16), 0);
    f.accept = gw_accept_new(f.listen_fd, 2);
    assert_non_null(f.accept);
    fake.accept = f.accept;
    fake.answer = ACCEPT;
    fake.added_to[0] = fake.added_to[1] = 0;
    for (size_t i = 0; i < 2; i++) {
        f.src[i] = gw_accept_source(f.accept, i, (struct MHD_Daemon *)&fake.daemon[i]);
        f.src[i]->tick(f.src[i], 0); /* the first tick starts watching the socket */
        assert_int_equal(f.src[i]->fd, f.listen_fd);
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gw_accept_free(f->accept);
    close(f->listen_fd);
    return 0;
}

/* A client connects; loop 0 wakes, accepts and hands the connection out. */
static void arrive(fixture *f)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
    close(c); /* accepted all the same */
    f->src[0]->tick(f->src[0], EPOLLIN);
}

static void test_a_connection_refused_after_it_was_reported_closed_counts_once(void **state)
{
    fixture *f = *state;
    fake.answer = START_CLOSE_REFUSE;
    arrive(f);
    assert_int_equal(gw_accept_load(f->accept, 0), 0); /* was UINT_MAX: counted down twice */
    assert_int_equal(gw_accept_load(f->accept, 1), 0);

    /* so loop 0 still gets its share: one connection each */
    fake.answer = ACCEPT;
    arrive(f);
    arrive(f);
    f->src[1]->tick(f->src[1], 0); /* loop 1 takes what loop 0 gave it */
    assert_int_equal(fake.added_to[0], 1);
    assert_int_equal(fake.added_to[1], 1);
    assert_int_equal(gw_accept_load(f->accept, 0), 1);
    assert_int_equal(gw_accept_load(f->accept, 1), 1);
}

static void test_a_connection_refused_outright_leaves_no_count(void **state)
{
    fixture *f = *state;
    fake.answer = REFUSE;
    arrive(f);
    assert_int_equal(gw_accept_load(f->accept, 0), 0);
    assert_int_equal(gw_accept_load(f->accept, 1), 0);
}

static void test_a_connection_given_to_another_loop_counts_there_until_it_closes(void **state)
{
    fixture *f = *state;
    arrive(f); /* loop 0 keeps the first */
    assert_int_equal(gw_accept_load(f->accept, 0), 1);
    arrive(f); /* and gives the second to loop 1, which has not added it yet */
    assert_int_equal(fake.added_to[1], 0);
    assert_int_equal(gw_accept_load(f->accept, 1), 1);
    f->src[1]->tick(f->src[1], 0);
    assert_int_equal(fake.added_to[1], 1);
    assert_int_equal(gw_accept_load(f->accept, 1), 1);
    gw_accept_closed(f->accept, 1);
    assert_int_equal(gw_accept_load(f->accept, 1), 0);
    arrive(f); /* loop 1 has fewer now */
    f->src[1]->tick(f->src[1], 0);
    assert_int_equal(fake.added_to[1], 2);
}

/* The graceful stop's question: is every connection accepted in a daemon? */
static void test_the_accept_is_quiet_only_once_every_loop_stopped_and_no_inbox_waits(void **state)
{
    fixture *f = *state;
    arrive(f); /* loop 0 keeps the first */
    arrive(f); /* and gives the second to loop 1's inbox */
    gw_accept_stop(f->accept);
    assert_false(gw_accept_quiet(f->accept)); /* no loop has seen the stop */
    f->src[0]->tick(f->src[0], 0);
    assert_int_equal(f->src[0]->fd, -1); /* loop 0 no longer watches the socket */
    assert_false(gw_accept_quiet(f->accept)); /* loop 1 might still accept */
    f->src[1]->tick(f->src[1], 0); /* takes its inbox, then sees the stop */
    assert_int_equal(fake.added_to[1], 1);
    assert_int_equal(f->src[1]->fd, -1);
    assert_true(gw_accept_quiet(f->accept));
    f->src[0]->tick(f->src[0], EPOLLIN); /* a late wake-up accepts nothing */
    assert_int_equal(fake.added_to[0], 1);
    assert_true(gw_accept_quiet(f->accept));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_connection_refused_after_it_was_reported_closed_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_connection_refused_outright_leaves_no_count,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_connection_given_to_another_loop_counts_there_until_it_closes, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_the_accept_is_quiet_only_once_every_loop_stopped_and_no_inbox_waits, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
