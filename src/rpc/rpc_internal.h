/* The DCE/RPC layer's interface table: a service is an rpc_iface with an opnum table. */
#ifndef SHOAL_RPC_INTERNAL_H
#define SHOAL_RPC_INTERNAL_H

#include "lib/buf.h"
#include "rpc/ndr.h"
#include "rpc/rpc.h"

/* DCE/RPC fault codes (C706 appendix E, MS-RPCE 2.2.2.13) */
#define NCA_S_OP_RNG_ERROR 0x1c010002u
#define NCA_S_UNKNOWN_IF 0x1c010003u
#define NCA_S_PROTO_ERROR 0x1c01000bu
#define NCA_S_FAULT_NDR 0x000006f7u
#define NCA_S_FAULT_REMOTE_NO_MEMORY 0x1c000016u
#define NCA_S_FAULT_INVALID_TAG 0x1c000006u /* a union discriminant with no arm */

/* One call, as a handler sees it. The handler decodes its [in] parameters from `in` (an NDR
 * cursor over the reassembled request stub, offset 0 = stub start for alignment) and encodes
 * its [out] parameters and return value into `out`. */
struct rpc_call {
	const struct rpc_env *env;
	struct rd in;	    /* the request stub */
	struct ndr_out out; /* the response stub */
};

/* Returns 0 (the response stub is in call->out) or a DCE/RPC fault code (NCA_S_FAULT_NDR for a
 * request stub that does not decode); application errors (WERROR, NTSTATUS) are a return value
 * inside the stub, not faults. */
typedef uint32_t (*rpc_op_fn)(struct rpc_call *call);

struct rpc_iface {
	const char *name;
	const char *const *pipes; /* NULL-terminated pipe names, without "\\PIPE\\" */
	uint8_t uuid[16];	  /* wire form (first three fields little-endian) */
	uint16_t vers_major, vers_minor;
	const rpc_op_fn *ops; /* indexed by opnum; NULL entries are answered nca_s_op_rng_error */
	uint16_t nops;
};

extern const struct rpc_iface rpc_srvsvc_iface;

#endif
