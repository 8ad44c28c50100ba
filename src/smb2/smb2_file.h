/* Private helpers shared by the file command files (create, rw, dir, info, fsinfo, secdesc).
 * Not part of the smb2.h contract. */
#ifndef SHOAL_SMB2_FILE_H
#define SHOAL_SMB2_FILE_H

#include "smb2/smb2.h"
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

/* Security descriptor of a file (smb2_secdesc.c): self-relative, MS-DTYP 2.4.6. addinfo is
 * the requested SECURITY_INFORMATION. */
void smb2_secdesc_build(struct smb2_req *req, const struct vfs_stat *st, uint32_t addinfo,
			struct wr *w);

/* FILESYSTEM info classes (smb2_fsinfo.c): appends the class's data to w, or returns an
 * error status. */
NTSTATUS smb2_fsinfo_query(struct smb2_req *req, struct smb2_open *op, uint8_t cls, struct wr *w);

#endif
