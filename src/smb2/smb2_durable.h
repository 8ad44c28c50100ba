/* Durable handles v1 and v2 on the wire side (MS-SMB2 2.2.13.2.3-2.2.13.2.12, 2.2.14.2.3/.12,
 * 3.3.5.9.6, 3.3.5.9.7, 3.3.5.9.10, 3.3.5.9.12): what CREATE parsed from the DHnQ, DHnC, DH2Q
 * and DH2C contexts, the grant after an open succeeded, and the reconnect of a disconnected open.
 * The table itself is src/state/durable.c. */
#ifndef SHOAL_SMB2_DURABLE_H
#define SHOAL_SMB2_DURABLE_H

#include "smb2/smb2.h"
#include "state/lease.h"

#define SMB2_DHANDLE_FLAG_PERSISTENT 0x00000002u

/* The durable contexts of one CREATE request. */
struct smb2_dh_req {
	bool dhnq, dhnc, dh2q, dh2c;
	uint64_t fid_persistent, fid_volatile; /* DHnC / DH2C */
	uint8_t create_guid[16];               /* DH2Q / DH2C */
	uint32_t timeout;                      /* DH2Q, ms */
	uint32_t flags;                        /* DH2Q / DH2C */
};

/* What the reconnect checks against: the request's lease context and name. */
struct smb2_dh_lease {
	bool present;
	uint8_t key[16];
};

/* Parses one of the four contexts (tag is 4 bytes); INVALID_PARAMETER when its data has the wrong
 * length. v2 contexts are ignored before SMB 3.0. */
NTSTATUS smb2_dh_parse(struct smb2_dh_req *d, const uint8_t *tag, struct rd data,
		       uint16_t dialect);
/* The combinations 3.3.5.9.10/3.3.5.9.12 refuse (INVALID_PARAMETER); a reconnect context
 * makes the request a reconnect (*reconnect). */
NTSTATUS smb2_dh_check(struct smb2_dh_req *d, bool *reconnect);

/* After a successful open: makes op durable when asked and allowed (a batch oplock or a lease with
 * handle caching, "durable handles" on). Returns 0 (not granted), 1 (v1 granted) or 2 (v2
 * granted, *timeout_ms the timeout to answer), -1 when the CreateGuid belongs to another open
 * and the request is no replay (the create fails: STATUS_DUPLICATE_OBJECTID). */
int smb2_durable_grant(struct smb2_req *req, struct smb2_open *op, const struct smb2_dh_req *d,
		       const struct state_oplock_grant *g, const uint8_t lease_key[16],
		       uint32_t *timeout_ms);

/* Reconnect (DHnC / DH2C): finds the disconnected open, checks it may be reconnected by this
 * request and attaches it to the request's session and tree with a new volatile id. On success
 * *out is the open and *cur its oplock level or lease state. */
NTSTATUS smb2_durable_reconnect(struct smb2_req *req, const struct smb2_dh_req *d,
				const struct smb2_dh_lease *lease, struct rd name,
				struct smb2_open **out, struct state_oplock_grant *cur);

/* Create replay (SMB2_FLAGS_REPLAY_OPERATION with DH2Q, 3.3.5.9.10): when the session already
 * holds the open of this CreateGuid, *out is that open, *cur its caching and *timeout_ms its
 * durable timeout (the create is answered again from them); ACCESS_DENIED when the replay asks
 * for other caching than the open has. *out NULL: a create to run as usual. */
NTSTATUS smb2_durable_replay(struct smb2_req *req, const struct smb2_dh_req *d,
			     const struct smb2_dh_lease *lease, struct smb2_open **out,
			     struct state_oplock_grant *cur, uint32_t *timeout_ms);

#endif
