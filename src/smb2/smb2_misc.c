/* ECHO and CANCEL (MS-SMB2 2.2.28/2.2.30, 3.3.5.16/3.3.5.17), and the commands whose real
 * implementation belongs to later work: CHANGE_NOTIFY answers STATUS_NOT_SUPPORTED, which
 * clients treat as "feature absent", and OPLOCK_BREAK refuses every acknowledgment until the
 * state layer grows leases and change notification (issue 6). LOCK is in smb2_lock.c. */
#include "lib/log.h"
#include "smb2/smb2.h"

NTSTATUS smb2_echo(struct smb2_req *req)
{
	wr_u16(req->out, 4);
	wr_u16(req->out, 0);
	return STATUS_SUCCESS;
}

NTSTATUS smb2_cancel(struct smb2_req *req)
{
	/* Every request of a connection runs to completion before the next one is read, so a
	   CANCEL can only name a request that has already been answered: nothing to do, and
	   CANCEL itself is never answered (3.3.5.16). */
	req->no_response = true;
	return STATUS_SUCCESS;
}

NTSTATUS smb2_change_notify(struct smb2_req *req)
{
	return SMB2_ERR(req, STATUS_NOT_SUPPORTED);
}

NTSTATUS smb2_oplock_break(struct smb2_req *req)
{
	/* no oplock or lease is ever granted yet, so no acknowledgment can be valid */
	return SMB2_ERR(req, STATUS_INVALID_OPLOCK_PROTOCOL);
}
