/* ECHO and CANCEL (MS-SMB2 2.2.28/2.2.30, 3.3.5.16/3.3.5.17). LOCK is in smb2_lock.c,
 * OPLOCK_BREAK in smb2_oplock.c; the dispatcher handles CANCEL itself (smb2_async.c). */
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
	/* The dispatcher handles CANCEL itself before any handler runs (it names a pending
	   request: smb2_async.c); this entry only gives the command table its StructureSize. */
	req->no_response = true;
	return STATUS_SUCCESS;
}

