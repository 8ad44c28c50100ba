/* Named pipes on IPC$: CREATE, READ, WRITE and FSCTL_PIPE_TRANSCEIVE reach the DCE/RPC layer
 * through these three functions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "rpc/rpc.h"
#include "smb2/smb2.h"

NTSTATUS smb2_pipe_open(struct smb2_req *req, struct smb2_open *op, const char *name)
{
	if (!rpc_pipe_known(name))
		return STATUS_OBJECT_NAME_NOT_FOUND;
	struct shoal_conf *conf = smb2_server_conf(req->srv);
	struct rpc_share_info *shares = calloc((size_t)conf->nshares + 1, sizeof(*shares));
	if (!shares) {
		conf_put(conf);
		return STATUS_NO_MEMORY;
	}
	for (int i = 0; i < conf->nshares; i++) {
		const struct conf_share *sh = &conf->shares[i];
		shares[i].name = sh->name;
		shares[i].comment = sh->comment ? sh->comment : "";
		shares[i].path = sh->path ? sh->path : "";
		shares[i].type = sh->is_ipc ? 3u | 0x80000000u : 0u;
		shares[i].browseable = sh->browseable;
	}
	struct rpc_env env = {
		.server_name = conf->netbios_name,
		.server_comment = conf->server_string,
		.domain = conf->workgroup,
		.user = req->session->user,
		.shares = shares,
		.nshares = conf->nshares,
		.smb_dialect = req->conn->dialect,
	};
	op->pipe = rpc_pipe_open(name, &env);
	int err = errno;
	free(shares);
	conf_put(conf);
	if (!op->pipe)
		return err == ENOENT ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_NO_MEMORY;
	return STATUS_SUCCESS;
}

/* READ on a pipe: the response body is written here (2.2.20) since the data comes from the
 * pipe, not the file system. */
NTSTATUS smb2_pipe_read(struct smb2_req *req, struct smb2_open *op, uint32_t len)
{
	struct wr *w = req->out;
	size_t start = w->len;
	if (rpc_pipe_pending(op->pipe) == 0)
		return STATUS_PIPE_EMPTY;
	wr_u16(w, 17);
	wr_u8(w, 0x50); /* DataOffset: header 64 + 16 */
	wr_u8(w, 0);
	wr_u32(w, 0); /* DataLength, patched */
	wr_u32(w, 0); /* DataRemaining */
	wr_u32(w, 0);
	size_t doff = wr_space(w, len);
	if (doff == (size_t)-1)
		return STATUS_NO_MEMORY;
	bool more = false;
	size_t n = rpc_pipe_read(op->pipe, wr_at(w, doff), len, &more);
	w->len = doff + n;
	wr_set_u32(w, start + 4, (uint32_t)n);
	if (more) {
		req->keep_body = true;
		return STATUS_BUFFER_OVERFLOW;
	}
	return STATUS_SUCCESS;
}

NTSTATUS smb2_pipe_write(struct smb2_req *req, struct smb2_open *op, const uint8_t *data,
			 uint32_t len)
{
	int rc = rpc_pipe_write(op->pipe, data, len);
	if (rc < 0) {
		LOG_INFO(LOG_RPC, "%s: invalid DCE/RPC data on a pipe", req->conn->peer);
		return rc == -ENOMEM ? STATUS_NO_MEMORY : STATUS_INVALID_PARAMETER;
	}
	struct wr *w = req->out;
	wr_u16(w, 17);
	wr_u16(w, 0);
	wr_u32(w, len);
	wr_u32(w, 0);
	wr_u16(w, 0);
	wr_u16(w, 0);
	return STATUS_SUCCESS;
}
