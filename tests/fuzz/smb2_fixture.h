/* The SMB2 request path without a socket, for the smb2_* fuzz targets: a server over a private
 * temporary state directory and share, a connection with fd -1 (the request path never
 * touches the socket), and the requests that bring it to a given state with the real client
 * side of SPNEGO/NTLMSSP. Everything is created afresh for each input (smb2_fz_begin ..
 * smb2_fz_end) so that ids are the same on every run: a corpus entry can name the session's
 * trees and opens (see SMB2_FZ_* below). */
#ifndef SHOAL_FUZZ_SMB2_FIXTURE_H
#define SHOAL_FUZZ_SMB2_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "smb2/smb2.h"

/* After smb2_fz_open_all: the tree and file ids a fuzzed frame can use. A frame's SessionId of
 * SMB2_FZ_SESSION (1) is replaced by the real, random, session id in every message of a
 * chain. */
#define SMB2_FZ_SESSION 1u
#define SMB2_FZ_TREE_DISK 1u /* the share "test" */
#define SMB2_FZ_TREE_IPC 2u  /* IPC$ */
#define SMB2_FZ_FIRST_MID 8u /* the next message id after smb2_fz_open_all */

struct smb2_fz {
	struct smb2_server *srv;
	struct smb2_conn *c;
	uint64_t mid;
	uint64_t session_id;
	/* FileIds (persistent, volatile) of the opens made by smb2_fz_open_all: a file "a.txt"
	   and the share root on the disk tree, the srvsvc pipe on IPC$ */
	uint64_t file_id[2], dir_id[2], pipe_id[2];
};

/* Creates the server and the connection; false when the environment cannot be set up. */
bool smb2_fz_begin(struct smb2_fz *f);
/* Frees them and restores the share's contents. */
void smb2_fz_end(struct smb2_fz *f);
/* Runs one frame (copied, as the transport owns a frame buffer) and checks the response's
 * framing; returns smb2_conn_input's result. The status of the first response is put in
 * *status when given (0xFFFFFFFF when there is no response). */
int smb2_fz_input(struct smb2_fz *f, const uint8_t *frame, size_t len, uint32_t *status);
/* The same, with the response chain (without headroom) copied into *resp, which the caller
 * frees with wr_free (empty when there was none). */
int smb2_fz_input_resp(struct smb2_fz *f, const uint8_t *frame, size_t len, uint32_t *status,
		       struct wr *resp);
/* Checks a plaintext response chain as smb2_fz_input does, and that each message carries
 * session_id (for chains that arrived in a transform). Aborts when a check fails. */
void smb2_fz_check_chain(const uint8_t *p, size_t len, uint64_t session_id);
/* A 3.1.1 NEGOTIATE with preauth, encryption, signing contexts; true on success. */
bool smb2_fz_negotiate(struct smb2_fz *f);
/* NEGOTIATE, SESSION_SETUP (NTLMv2 through SPNEGO), two TREE_CONNECTs and three CREATEs. */
bool smb2_fz_open_all(struct smb2_fz *f);
/* When set, called just before (true) and after (false) each smb2_conn_input of the fixture,
 * so a test can act on the request path alone (the allocation-failure sweep of
 * tests/unit/smb2/test_smb2_faults.c). NULL for the fuzz targets. */
extern void (*smb2_fz_input_hook)(bool entering);
/* Replaces the placeholder SessionId in each message of a chain (in place). */
void smb2_fz_patch_session(const struct smb2_fz *f, uint8_t *frame, size_t len);

#endif
