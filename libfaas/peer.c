/*
 * peer.c - which process is at the other end of a loopback TCP connection (peer.h).
 */
#include "peer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <pthread.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define TREE_MOST 4096          /* processes looked at: pids_max is 1024 by default */

/* Is addr (AF_INET: 4 bytes, AF_INET6: 16) a loopback address? */
static bool loopback(int family, const void *addr)
{
    const unsigned char *b = addr;
    if (family == AF_INET)
        return b[0] == 127;
    static const unsigned char one[16] = { [15] = 1 };
    return memcmp(b, one, 16) == 0;
}

bool faas__addr_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return loopback(AF_INET, &((const struct sockaddr_in *)(const void *)a)->sin_addr);
    if (a->ss_family != AF_INET6)
        return false;
    const struct in6_addr *b = &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr;
    return IN6_IS_ADDR_V4MAPPED(b) ? b->s6_addr[12] == 127 : loopback(AF_INET6, b);
}

/* Ask the kernel (sock_diag, one exact lookup: no dump) about the TCP socket whose own
 * address is src/sport and which is connected to dst/dport (ports in network order; for
 * AF_INET the first 4 bytes of each address, for AF_INET6 all 16): its inode, its cookie
 * (a 64-bit id the kernel never gives another socket) and its owner's uid. 0, -ENOENT (no
 * such socket here), or another -errno. */
static int diag_on(int family, const void *src, uint16_t sport, const void *dst,
                   uint16_t dport, uint32_t ifindex, uint64_t *inode, uint64_t *cookie,
                   uint32_t *uid)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -errno;
    struct {
        struct nlmsghdr         h;
        struct inet_diag_req_v2 r;
    } q;
    memset(&q, 0, sizeof q);
    q.h.nlmsg_len = sizeof q;
    q.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    q.h.nlmsg_flags = NLM_F_REQUEST;
    q.r.sdiag_family = (uint8_t)family;
    q.r.sdiag_protocol = IPPROTO_TCP;
    q.r.idiag_states = ~0u;
    /* The kernel's id names the socket's own address as the source, the one it is
     * connected to as the destination. */
    size_t alen = family == AF_INET6 ? 16 : 4;
    q.r.id.idiag_sport = sport;
    q.r.id.idiag_dport = dport;
    memcpy(q.r.id.idiag_src, src, alen);
    memcpy(q.r.id.idiag_dst, dst, alen);
    q.r.id.idiag_if = ifindex;
    q.r.id.idiag_cookie[0] = q.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    int rc = -EIO;
    if (sendto(fd, &q, sizeof q, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        rc = -errno;
        goto out;
    }
    union {
        struct nlmsghdr h;
        char            buf[8192];
    } a;
    ssize_t n;
    do
        n = recv(fd, a.buf, sizeof a.buf, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        rc = -errno;
        goto out;
    }
    for (struct nlmsghdr *h = &a.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR &&
            h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
            const struct nlmsgerr *e = NLMSG_DATA(h);
            rc = e->error < 0 ? e->error : -EIO;
            break;
        }
        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
            h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            *inode = m->idiag_inode;
            *cookie = (uint64_t)m->id.idiag_cookie[0] |
                      (uint64_t)m->id.idiag_cookie[1] << 32;
            *uid = m->idiag_uid;
            rc = m->idiag_inode != 0 ? 0 : -ENOENT;   /* 0: closed, in TIME_WAIT */
            break;
        }
    }
out:
    close(fd);
    return rc;
}

/* diag_on() with no interface, then, for a loopback address, on "lo": a socket bound to
 * a device (SO_BINDTODEVICE, open to every user since Linux 5.7) is found only by a
 * lookup that names that device. */
static int diag(int family, const void *src, uint16_t sport, const void *dst, uint16_t dport,
                uint64_t *inode, uint64_t *cookie, uint32_t *uid)
{
    int rc = diag_on(family, src, sport, dst, dport, 0, inode, cookie, uid);
    if (rc != -ENOENT || !loopback(family, dst))
        return rc;
    unsigned lo = if_nametoindex("lo");
    return lo != 0 ? diag_on(family, src, sport, dst, dport, lo, inode, cookie, uid) : rc;
}

int faas__peer_inode(const struct sockaddr_in *peer, uint16_t port, faas__peer_sock *sock)
{
    uint32_t uid, lo = htonl(INADDR_LOOPBACK);
    return diag(AF_INET, &peer->sin_addr, peer->sin_port, &lo, htons(port), &sock->inode,
                &sock->cookie, &uid);
}

/* The uid of the socket at the other end of fd (self: of fd itself), and in *lo whether
 * that end's address is a loopback one; as faas__peer_uid, without its judgement of
 * ENOENT. */
static int peer_uid_of(int fd, bool self, uint32_t *uid, bool *lo)
{
    struct sockaddr_storage own, peer;
    socklen_t ol = sizeof own, pl = sizeof peer;
    *lo = false;
    if (getsockname(fd, (struct sockaddr *)(self ? &peer : &own), self ? &pl : &ol) != 0 ||
        getpeername(fd, (struct sockaddr *)(self ? &own : &peer), self ? &ol : &pl) != 0)
        return -errno;
    *lo = faas__addr_loopback(&peer);
    uint64_t inode, cookie;
    if (own.ss_family == AF_INET && peer.ss_family == AF_INET) {
        const struct sockaddr_in *o = (const void *)&own, *p = (const void *)&peer;
        return diag(AF_INET, &p->sin_addr, p->sin_port, &o->sin_addr, o->sin_port, &inode,
                    &cookie, uid);
    }
    if (own.ss_family != AF_INET6 || peer.ss_family != AF_INET6)
        return -EAFNOSUPPORT;
    const struct sockaddr_in6 *o = (const void *)&own, *p = (const void *)&peer;
    /* An IPv4 client of a dual-stack listener: its own socket is an IPv4 one. */
    if (IN6_IS_ADDR_V4MAPPED(&p->sin6_addr) && IN6_IS_ADDR_V4MAPPED(&o->sin6_addr))
        return diag(AF_INET, p->sin6_addr.s6_addr + 12, p->sin6_port,
                    o->sin6_addr.s6_addr + 12, o->sin6_port, &inode, &cookie, uid);
    return diag(AF_INET6, &p->sin6_addr, p->sin6_port, &o->sin6_addr, o->sin6_port, &inode,
                &cookie, uid);
}

/* Does the kernel answer sock_diag lookups at all? A kernel without inet_diag/tcp_diag
 * says ENOENT for every socket, as for one that is gone: asked once, about a connection
 * made here for the purpose. */
static int works = -1;
static pthread_once_t works_once = PTHREAD_ONCE_INIT;

static void probe(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1;
    works = 0;
    if (l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0 &&
        getsockname(l, (struct sockaddr *)&a, &al) == 0 &&
        (c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
        connect(c, (struct sockaddr *)&a, sizeof a) == 0) {
        uint32_t uid;
        bool lo;
        works = peer_uid_of(c, true, &uid, &lo) == 0;
    }
    if (c >= 0)
        close(c);
    if (l >= 0)
        close(l);
}

bool faas__peer_works(void)
{
    pthread_once(&works_once, probe);
    return works == 1;
}

int faas__peer_uid(int fd, uint32_t *uid)
{
    bool lo;
    int rc = peer_uid_of(fd, false, uid, &lo);
    if (rc != -ENOENT)
        return rc;
    if (!faas__peer_works())
        return -ENOSYS;
    /* Not found: another machine's, unless it came from a loopback address (a socket
     * gone since, or one hiding): then a process of this one. */
    return lo ? -ESRCH : -ENOENT;
}

/* Is descriptor fd of pid the socket whose cookie is given? A socket's inode number is
 * 32 bits and comes round again (the kernel's get_next_ino()): a process that makes
 * sockets until it holds one numbered as the runtime's connection would otherwise pass
 * for it. The descriptor is copied here (pidfd_getfd, Linux 5.6) and its cookie asked.
 * 1 yes, 0 no; where it cannot be copied (an older kernel, no right to) the inode's word
 * is taken: 1. */
static int same_socket(pid_t pid, int fd, uint64_t cookie)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd) && defined(SO_COOKIE)
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0)
        return errno == ESRCH ? 0 : 1;
    int copy = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
    int e = errno;
    close(pfd);
    if (copy < 0)
        return e == EBADF || e == ESRCH ? 0 : 1;    /* closed or gone since: not it */
    uint64_t got = 0;
    socklen_t len = sizeof got;
    int rc = getsockopt(copy, SOL_SOCKET, SO_COOKIE, &got, &len);
    close(copy);
    return rc != 0 || got == cookie;
#else
    (void)pid;
    (void)fd;
    (void)cookie;
    return 1;
#endif
}

/* Does pid hold the socket (its "socket:[INODE]" link, then its cookie)? 1, 0 (also: pid
 * is gone), or -errno. */
static int holds(pid_t pid, const char *want, uint64_t cookie)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT || errno == ESRCH ? 0 : -errno;
    int found = 0;
    for (struct dirent *e; found == 0 && (e = readdir(d)) != NULL;) {
        char link[64];
        if (e->d_name[0] == '.')
            continue;
        ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0 &&
                    same_socket(pid, (int)strtol(e->d_name, NULL, 10), cookie);
        }
    }
    closedir(d);
    return found;
}

/* Append pid's children (those of each of its threads) to tree[*n...], at most TREE_MOST
 * in all. */
static void children(pid_t pid, pid_t *tree, size_t *n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    for (struct dirent *e; *n < TREE_MOST && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char file[300], buf[4096];
        snprintf(file, sizeof file, "%.255s/children", e->d_name);
        int fd = openat(dirfd(d), file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t got = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (got <= 0)
            continue;
        buf[got] = '\0';
        if ((size_t)got == sizeof buf - 1) {    /* full: its last pid may be cut short */
            char *sp = strrchr(buf, ' ');
            *(sp != NULL ? sp : buf) = '\0';
        }
        char *p = buf, *end;
        for (long v; *n < TREE_MOST && (v = strtol(p, &end, 10), end != p); p = end)
            if (v > 0)
                tree[(*n)++] = (pid_t)v;
    }
    closedir(d);
}

int faas__peer_in_tree(pid_t root, pid_t first, const faas__peer_sock *sock)
{
    char want[48];
    snprintf(want, sizeof want, "socket:[%llu]", (unsigned long long)sock->inode);
    int denied = 0;
    if (first > 0) {
        int rc = holds(first, want, sock->cookie);
        if (rc > 0)
            return 1;
        denied = rc;
    }
    pid_t *tree = malloc(TREE_MOST * sizeof *tree);
    if (tree == NULL)
        return -ENOMEM;
    size_t n = 0, at = 0;
    tree[n++] = root;
    int found = 0;
    while (!found && at < n) {
        pid_t pid = tree[at++];
        /* The root, when it is not first, is the instance's init: the host's helper,
         * which holds no connection of the runtime's. */
        int rc = pid == first || (pid == root && first > 0) ? 0
                                                             : holds(pid, want, sock->cookie);
        if (rc < 0 && denied == 0)
            denied = rc;
        found = rc > 0;
        children(pid, tree, &n);
    }
    free(tree);
    return found ? 1 : denied;
}
