/* The transport: listeners, and one epoll set per core served by a group of threads that are
 * event loop and worker at once (DESIGN.md section 4): the thread an event wakes reads the
 * connection and runs its complete requests itself, while the group's other threads wait for
 * the next events, so a slow file system call holds one thread, never the others' connections.
 * A connection's frames are started in order; plain READs and WRITEs of regular files may run
 * several at once on different threads (smb2_conn_frame_parallel), every other frame runs alone.
 * Details at the top of net.c. */
#ifndef SHOAL_SERVER_NET_H
#define SHOAL_SERVER_NET_H

#include <stddef.h>

struct smb2_server;
struct shoal_conf;
struct net;

/* Binds every (interface, port) of conf; returns NULL and fills err on failure. nloops epoll sets,
 * nthreads threads in all (at least one per set). */
struct net *net_new(struct smb2_server *srv, const struct shoal_conf *conf, int nloops,
		    int nthreads, char *err, size_t errlen);
/* Starts the threads. 0 or -errno. */
int net_start(struct net *n);
/* Stops accepting, ends every connection cleanly (closing their opens) and joins all threads. */
void net_stop(struct net *n);
void net_free(struct net *n);

#endif
