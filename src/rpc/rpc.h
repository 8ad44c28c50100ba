/* DCE/RPC (C706 + MS-RPCE) over named pipes on IPC$: connection-oriented PDUs, fragment
 * reassembly, bind/alter-context negotiation, and a table of interfaces each with an opnum
 * dispatch table. Services (srvsvc first; witness, wkssvc, lsarpc later) register here.
 *
 * A pipe is a byte stream: the SMB2 layer writes what the client WRITEs (or the input of
 * FSCTL_PIPE_TRANSCEIVE) and reads back whatever response PDUs are pending. Responses larger
 * than the client's read size are returned in parts (rpc_pipe_read reports more == true). */
#ifndef SHOAL_RPC_H
#define SHOAL_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a service may learn about the server it runs in; filled by the SMB2 layer per open. */
struct rpc_share_info {
	const char *name;
	const char *comment;
	const char *path; /* as Windows shows it: "C:\\path" style is not needed; the POSIX path */
	uint32_t type;    /* STYPE_DISKTREE 0, STYPE_IPC 3; | STYPE_SPECIAL 0x80000000 for IPC$ */
	bool browseable;  /* non-browseable shares are left out of NetShareEnumAll */
};

struct rpc_env {
	const char *server_name; /* NetBIOS name, e.g. "SHOAL" */
	const char *server_comment;
	const char *domain;      /* workgroup */
	const char *user;        /* authenticated user name ("" for anonymous) */
	/* Share list snapshot valid for the lifetime of the pipe. */
	const struct rpc_share_info *shares;
	int nshares;
	uint16_t smb_dialect;
};

struct rpc_pipe;

/* Pipe names are compared case-insensitively, with or without a leading "\\PIPE\\" or "\\".
 * Returns NULL with errno = ENOENT for a pipe shoal does not serve, ENOMEM on failure.
 * env (and the strings and arrays it points to) is copied. */
struct rpc_pipe *rpc_pipe_open(const char *name, const struct rpc_env *env);
void rpc_pipe_close(struct rpc_pipe *p);
/* True if name is a pipe shoal serves. */
bool rpc_pipe_known(const char *name);
/* Feeds len bytes from the client. Returns 0, or -EINVAL when the stream is not valid DCE/RPC
 * (the SMB2 layer then answers the WRITE with an error; the pipe stays usable for a new bind
 * only if the framing could be resynchronised, otherwise further writes fail with -EPIPE). */
int rpc_pipe_write(struct rpc_pipe *p, const uint8_t *data, size_t len);
/* Copies up to max bytes of pending output to out; *more tells whether bytes remain after.
 * Returns bytes copied (0 when nothing is pending). */
size_t rpc_pipe_read(struct rpc_pipe *p, uint8_t *out, size_t max, bool *more);
/* Bytes of output pending. */
size_t rpc_pipe_pending(const struct rpc_pipe *p);

#endif
