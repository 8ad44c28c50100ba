/* INTERIM, removed when main's smb2_async.c lands: requests cannot go asynchronous yet, so
 * smb2_go_async refuses (a blocking lock that conflicts answers STATUS_INSUFFICIENT_RESOURCES)
 * and there is never a pending request to wake or cancel. */
#include "smb2/smb2.h"
#include "smb2/smb2_async.h"

NTSTATUS smb2_go_async(struct smb2_req *req, const struct smb2_async_ops *ops, void *priv,
		       struct smb2_open *op, uint32_t timeout_ms, struct smb2_pending **out)
{
	(void)req;
	(void)op;
	(void)timeout_ms;
	if (out)
		*out = NULL;
	ops->free(priv);
	return STATUS_INSUFFICIENT_RESOURCES;
}

void smb2_pending_wake(struct smb2_pending *p)
{
	(void)p;
}
