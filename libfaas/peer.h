/*
 * peer.h - which process is at the other end of a loopback TCP connection (peer.c), so
 * that an instance's Runtime API endpoint serves its own instance's processes only
 * (runtime_api.md, "Endpoint"). Never installed.
 *
 * A loopback port is open to every process of the machine, another function's runtime
 * among them, and TCP carries no credentials (SO_PEERCRED is Unix sockets only). So the
 * host asks the kernel (sock_diag, NETLINK_SOCK_DIAG) for the inode of the connecting
 * socket and looks for it among the descriptors of the instance's processes: the process
 * tree below the instance's init (its PID namespace's processes are all there).
 * The same kernel answer gives the gateway the user of a local client (faas__peer_uid).
 */
#ifndef FAAS_PEER_H
#define FAAS_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

/* A socket as the kernel names it: its inode number (32 bits, reused once they come
 * round) and its cookie (64 bits, never reused). */
typedef struct faas__peer_sock {
    uint64_t inode, cookie;
} faas__peer_sock;

/* The TCP socket whose own address is peer and which is connected to 127.0.0.1:port (the
 * other end of a connection accepted on that port), in *sock: 0; -ENOENT: no such socket
 * (it is gone); another -errno: the kernel could not be asked. */
int faas__peer_inode(const struct sockaddr_in *peer, uint16_t port, faas__peer_sock *sock);

/* The uid of the process that made the socket at the other end of the connected TCP
 * socket fd, where that end is a socket of this machine (of this network namespace), in
 * *uid: 0; -ENOENT: it is another machine's; -ESRCH: it came from a loopback address but
 * is not found (gone since, or hiding): a process of this machine, user unknown; -ENOSYS
 * or another -errno: the kernel cannot be asked. The gateway uses it: without a token it
 * serves its own user only. */
int faas__peer_uid(int fd, uint32_t *uid);
/* Is a an IPv4 or IPv6 loopback address (127.0.0.0/8, ::1, or 127.x mapped to IPv6)? */
bool faas__addr_loopback(const struct sockaddr_storage *a);
/* Does this kernel answer sock_diag lookups (inet_diag and tcp_diag)? Asked once. */
bool faas__peer_works(void);

/* Does a process of the tree rooted at root (root, its children, theirs...) hold the
 * socket (a descriptor linked to its inode, whose cookie is its cookie: pidfd_getfd, where
 * the kernel has it)? 1 yes, 0 no, -errno when none was found and a process's descriptors
 * could not be read (EACCES: no right to). first, if above 0, is looked at first (the
 * runtime, which holds its connection itself but for a child's), and root then is not
 * (the instance's init, which holds none of the runtime's). */
int faas__peer_in_tree(pid_t root, pid_t first, const faas__peer_sock *sock);

#endif
