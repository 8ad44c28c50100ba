/* Private helpers shared by the file command files (create, rw, dir, info, fsinfo, secdesc).
 * Not part of the smb2.h contract. */
#ifndef SHOAL_SMB2_FILE_H
#define SHOAL_SMB2_FILE_H

#include "smb2/smb2.h"
#include "sec/secdesc.h"
#include "state/state.h"

/* Access rights not in smb2_wire.h (MS-SMB2 2.2.13.1.2 names for directories) */
#define FILE_LIST_DIRECTORY FILE_READ_DATA
#define FILE_ADD_FILE FILE_WRITE_DATA
#define FILE_ADD_SUBDIRECTORY FILE_APPEND_DATA
#define FILE_TRAVERSE FILE_EXECUTE
#define FILE_GENERIC_READ 0x00120089u
#define FILE_GENERIC_WRITE 0x00120116u
#define FILE_GENERIC_EXECUTE 0x001200A0u

/* ShareAccess (2.2.13) */
#define FILE_SHARE_READ 0x1u
#define FILE_SHARE_WRITE 0x2u
#define FILE_SHARE_DELETE 0x4u

/* CreateOptions (2.2.13) */
#define FILE_DIRECTORY_FILE 0x00000001u
#define FILE_WRITE_THROUGH 0x00000002u
#define FILE_SEQUENTIAL_ONLY 0x00000004u
#define FILE_NON_DIRECTORY_FILE 0x00000040u
#define FILE_OPEN_BY_FILE_ID 0x00002000u
#define FILE_DELETE_ON_CLOSE 0x00001000u
#define FILE_OPEN_REPARSE_POINT 0x00200000u

/* Write access bits the read-only checks look at */
#define WRITE_LIKE_ACCESS                                                                          \
	(FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES |              \
	 FILE_DELETE_CHILD | DELETE_ACCESS | WRITE_DAC | WRITE_OWNER)

/* errno (negative or positive) -> NTSTATUS, with this layer's extra conventions (EIDRM =
 * delete pending). */
NTSTATUS smb2_file_status(int err);

/* Windows-style path from a wire name (UTF-16LE): validated and converted to the VFS form
 * ('/' separated, "" = root). Returns STATUS_SUCCESS or the status a Windows server gives. */
NTSTATUS smb2_wire_path(const uint8_t *name, size_t nbytes, char **out);
/* The same with a stream part (smb2_stream.h): *stream gets the malloc'ed stream name or NULL,
 * *data_suffix whether "::$DATA" was spelt out. */
NTSTATUS smb2_wire_path_ex(const uint8_t *name, size_t nbytes, char **out, char **stream,
			   bool *data_suffix);

/* The 4 FILETIMEs, allocation size, end of file and attributes as CREATE and CLOSE lay them
 * out (and FileNetworkOpenInformation). */
void smb2_put_times_sizes(struct wr *w, const struct vfs_stat *st);

/* ---- security descriptors of files (smb2_secdesc.c; the design is in its header) ---- */
struct sec_desc;
/* The file's descriptor: the stored one while current (*stored), else derived from the mode.
 * 0 or -errno; *out is freed with sec_desc_free. */
int smb2_secdesc_load(struct smb2_req *req, struct vfs_file *f, const struct vfs_stat *st,
		      struct sec_desc **out, bool *stored);
/* QUERY_INFO SECURITY: appends the parts addinfo selects, or returns the error status. */
NTSTATUS smb2_secdesc_query(struct smb2_req *req, struct smb2_open *op, uint32_t addinfo,
			    struct wr *w);
/* SET_INFO SECURITY with the descriptor in in. */
NTSTATUS smb2_secdesc_set(struct smb2_req *req, struct smb2_open *op, uint32_t addinfo,
			  const struct rd *in);
/* CREATE: the SecD create context's descriptor (*out freed with sec_desc_free). */
NTSTATUS smb2_secdesc_parse_ctx(const uint8_t *p, size_t len, struct sec_desc **out);
/* CREATE of an existing file: 1 and *maximal when a stored descriptor decides its access, 0 when
 * the POSIX check applies, -errno. posix_acc is vfs_access's answer for the file. */
int smb2_secdesc_open_access(struct smb2_req *req, struct vfs_file *f, const struct vfs_stat *st,
			     unsigned posix_acc, uint32_t *maximal);
/* CREATE of a new file or directory at path: the parent's stored descriptor must grant
 * ADD_FILE / ADD_SUBDIRECTORY (the POSIX check happens when the file is made). */
NTSTATUS smb2_secdesc_check_create(struct smb2_req *req, const char *path, bool dir);
/* Access-based enumeration: may the user read the entry at path (FILE_READ_DATA,
 * FILE_READ_ATTRIBUTES and FILE_READ_EA by its stored descriptor, else read permission)? */
bool smb2_secdesc_can_read(struct smb2_req *req, const char *path);
/* 2.2.10 ShareFlags: entries the user cannot read are left out of directory listings */
#define SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM 0x00000800u
/* CREATE made f: gives it the descriptor inherited from its parent or supplied by the client
 * (creator, may be NULL), stored and mapped onto its mode. */
NTSTATUS smb2_secdesc_new_file(struct smb2_req *req, struct vfs_file *f,
			       const struct sec_desc *creator);

/* FILESYSTEM info classes (smb2_fsinfo.c): appends the class's data to w, or returns an
 * error status. */
NTSTATUS smb2_fsinfo_query(struct smb2_req *req, struct smb2_open *op, uint8_t cls, struct wr *w);

#endif
