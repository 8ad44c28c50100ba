/* The SMB2 service context of one server: configuration, user database, idmap, shared state. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/ntime.h"
#include "smb2/smb2.h"
#include "state/durable.h"
#include "state/lease.h"
#include "state/notify.h"
#include "state/state.h"

struct smb2_server *smb2_server_new(struct shoal_conf *conf, char *err, size_t errlen)
{
	vfs_ident_apply(NULL); /* reads the state files as the server (see run_locked) */
	struct smb2_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&srv->conf_lock, NULL);
	pthread_mutex_init(&srv->conns_lock, NULL);
	pthread_mutex_init(&srv->sessions_lock, NULL);
	srv->conf = conf_get(conf);
	int rc = mkdir_p(conf->state_dir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "state directory %s: %s", conf->state_dir, strerror(-rc));
		goto fail;
	}
	srv->users = userdb_open(conf->passdb);
	srv->idmap = idmap_open(conf->state_dir);
	if (!srv->users || !srv->idmap) {
		snprintf(err, errlen, "cannot open the user database or idmap in %s: %s",
			 conf->state_dir, strerror(errno));
		goto fail;
	}
	srv->state = state_db_new();
	srv->timers = smb2_timers_new();
	srv->notify = state_notify_new();
	srv->leases = state_lease_db_new(smb2_oplock_send_break, conf->oplock_break_timeout_ms);
	srv->session_hash = calloc(SMB2_SESSION_HASH_SIZE, sizeof(*srv->session_hash));
	srv->durable = state_durable_db_new(smb2_durable_expire);
	if (!srv->state || !srv->timers || !srv->notify || !srv->leases || !srv->durable ||
	    !srv->session_hash) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	uint64_t sid0 = 0;
	crypto_random(srv->server_guid, 16);
	crypto_random(&sid0, sizeof(sid0));
	/* session ids are unpredictable but unique: a random start, then a counter */
	atomic_init(&srv->next_session_id, (sid0 & 0x0000FFFFFFFFFFFFull) | 1);
	atomic_init(&srv->next_persistent_id, 1);
	atomic_init(&srv->next_async_id, 0);
	srv->start_time = nttime_now();
	return srv;
fail:
	smb2_server_free(srv);
	return NULL;
}

void smb2_server_free(struct smb2_server *srv)
{
	if (!srv)
		return;
	vfs_ident_apply(NULL); /* not a request: as the server (see run_locked) */
	/* disconnected durable opens close first: they use the tables below */
	state_durable_db_free(srv->durable);
	smb2_timers_free(srv->timers);
	state_notify_free(srv->notify);
	state_lease_db_free(srv->leases);
	if (srv->state)
		state_db_free(srv->state);
	if (srv->users)
		userdb_close(srv->users);
	if (srv->idmap)
		idmap_close(srv->idmap);
	conf_put(srv->conf);
	pthread_mutex_destroy(&srv->conf_lock);
	pthread_mutex_destroy(&srv->conns_lock);
	pthread_mutex_destroy(&srv->sessions_lock);
	free(srv->session_hash);
	free(srv);
}

struct shoal_conf *smb2_server_conf(struct smb2_server *srv)
{
	pthread_mutex_lock(&srv->conf_lock);
	struct shoal_conf *c = conf_get(srv->conf);
	pthread_mutex_unlock(&srv->conf_lock);
	return c;
}

void smb2_server_set_conf(struct smb2_server *srv, struct shoal_conf *conf)
{
	pthread_mutex_lock(&srv->conf_lock);
	struct shoal_conf *old = srv->conf;
	srv->conf = conf;
	pthread_mutex_unlock(&srv->conf_lock);
	if (srv->leases)
		state_lease_db_set_timeout(srv->leases, (uint32_t)conf->oplock_break_timeout_ms);
	conf_put(old);
}
