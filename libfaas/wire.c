/*
 * wire.c - the messages of libfaas's helper programs over their SOCK_SEQPACKET sockets
 * (isolate.h): one message per call, with descriptors passed along (SCM_RIGHTS). Used by
 * the host (isolate.c, process_spawn.c), by faas-zygote and its instances
 * (isolate_child.c), and compiled into faas-spawner (process_spawner.c), which does not
 * link libfaas.
 */
#include "isolate.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define MAX_FDS 4
#define RECV_FDS 253            /* SCM_MAX_FD: the most one message can carry */

int faas__iso_send_fds(int sock, struct iovec *iov, int iovcnt, const int *fds, int nfds)
{
    union {
        struct cmsghdr h;
        char           buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
    } u;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)iovcnt;
    if (nfds > MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (nfds > 0) {
        memset(&u, 0, sizeof u);
        m.msg_control = u.buf;
        m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(sock, &m, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

int faas__iso_send(int sock, struct iovec *iov, int iovcnt, int fd)
{
    return faas__iso_send_fds(sock, iov, iovcnt, &fd, fd >= 0 ? 1 : 0);
}

void faas__iso_close_fd(int fd)
{
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
        struct linger none = { 1, 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &none, sizeof none);
    }
    close(fd);
}

static long recv_fds(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
                     bool restart, int flags)
{
    /* Room for as many descriptors as a message can carry: those the kernel could not
     * pass (a truncated control message) it would close itself, here, where a socket
     * set to linger could block this thread. */
    union {
        struct cmsghdr h;
        char           buf[CMSG_SPACE(RECV_FDS * sizeof(int))];
    } u;
    struct iovec iov = { buf, cap };
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    *nfds = 0;
    ssize_t n;
    do
        n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | flags);
    while (n < 0 && errno == EINTR && restart);
    if (n < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*nfds < maxfds)
                fds[(*nfds)++] = fd;
            else
                faas__iso_close_fd(fd); /* more than was asked for: not kept */
        }
    }
    return (long)n;
}

long faas__iso_recv_fds(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
                        bool restart)
{
    return recv_fds(sock, buf, cap, fds, maxfds, nfds, restart, 0);
}

long faas__iso_recv_now(int sock, void *buf, size_t cap)
{
    int fd = -1, n = 0;
    long len = recv_fds(sock, buf, cap, &fd, 1, &n, false, MSG_DONTWAIT);
    if (n > 0)
        faas__iso_close_fd(fd);
    return len;
}

long faas__iso_recv(int sock, void *buf, size_t cap, int *fd, bool restart)
{
    int n;
    long len = faas__iso_recv_fds(sock, buf, cap, fd, 1, &n, restart);
    if (n == 0)
        *fd = -1;
    return len;
}

/* STARTED.view_step in words (the host says it; the view is made in isolate_userns.c,
 * which a build without isolation leaves out of the library). */
const char *faas__iso_view_step(int step)
{
    switch (step & ~FAAS__ISO_VIEW_PARTIAL) {
    case FAAS__ISO_VIEW_NS:       return "a mount namespace";
    case FAAS__ISO_VIEW_READONLY: return "every mount read-only";
    case FAAS__ISO_VIEW_TMP:      return "a private /tmp";
    case FAAS__ISO_VIEW_KEEP:     return "a directory the runtime needs";
    case FAAS__ISO_VIEW_WRITABLE: return "a writable directory";
    case FAAS__ISO_VIEW_HIDE:     return "the journal hidden";
    case FAAS__ISO_VIEW_PROC:     return "/proc put back";
    case FAAS__ISO_VIEW_ROOT:     return "root's devices and kernel settings shut";
    case FAAS__ISO_VIEW_LOCK:     return "a user namespace, without which root undoes it";
    default:                      return "the view";
    }
}
