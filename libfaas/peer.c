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
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#define TREE_MOST 4096          /* processes looked at: pids_max is 1024 by default */

int faas__peer_inode(const struct sockaddr_in *peer, uint16_t port, uint64_t *inode)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -errno;
    /* One socket, found by its four addresses (no dump): the kernel's id names the
     * socket's own address as the source, the one it is connected to as the destination. */
    struct {
        struct nlmsghdr         h;
        struct inet_diag_req_v2 r;
    } q;
    memset(&q, 0, sizeof q);
    q.h.nlmsg_len = sizeof q;
    q.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    q.h.nlmsg_flags = NLM_F_REQUEST;
    q.r.sdiag_family = AF_INET;
    q.r.sdiag_protocol = IPPROTO_TCP;
    q.r.idiag_states = ~0u;
    q.r.id.idiag_sport = peer->sin_port;
    q.r.id.idiag_dport = htons(port);
    q.r.id.idiag_src[0] = peer->sin_addr.s_addr;
    q.r.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
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
            rc = m->idiag_inode != 0 ? 0 : -ENOENT;   /* 0: closed, in TIME_WAIT */
            break;
        }
    }
out:
    close(fd);
    return rc;
}

/* Does pid hold the socket? 1, 0 (also: pid is gone), or -errno. */
static int holds(pid_t pid, const char *want)
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
            found = strcmp(link, want) == 0;
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
        char *p = buf, *end;
        for (long v; *n < TREE_MOST && (v = strtol(p, &end, 10), end != p); p = end)
            if (v > 0)
                tree[(*n)++] = (pid_t)v;
    }
    closedir(d);
}

int faas__peer_in_tree(pid_t root, pid_t first, uint64_t inode)
{
    char want[48];
    snprintf(want, sizeof want, "socket:[%llu]", (unsigned long long)inode);
    int denied = 0;
    if (first > 0) {
        int rc = holds(first, want);
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
        int rc = pid == first || (pid == root && first > 0) ? 0 : holds(pid, want);
        if (rc < 0 && denied == 0)
            denied = rc;
        found = rc > 0;
        children(pid, tree, &n);
    }
    free(tree);
    return found ? 1 : denied;
}
