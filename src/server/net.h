/* The transport: listeners, one epoll event loop per core that owns its connections' sockets,
 * and a worker pool that runs requests (DESIGN.md section 4). A connection's frames are started
 * in order on whichever worker is free; plain READs and WRITEs of regular files may run several
 * at once on different workers (smb2_conn_frame_parallel), every other frame runs alone. File
 * system calls therefore never block a loop. Details at the top of net.c. */
#ifndef SHOAL_SERVER_NET_H
#define SHOAL_SERVER_NET_H

#include <stddef.h>

struct smb2_server;
struct shoal_conf;
struct net;

/* Binds every (interface, port) of conf; returns NULL and fills err on failure. */
struct net *net_new(struct smb2_server *srv, const struct shoal_conf *conf, int nloops,
		    int nworkers, char *err, size_t errlen);
/* Starts the loop and worker threads. 0 or -errno. */
int net_start(struct net *n);
/* Stops accepting, ends every connection cleanly (closing their opens) and joins all threads. */
void net_stop(struct net *n);
void net_free(struct net *n);

#endif
