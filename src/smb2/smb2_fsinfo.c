/* QUERY_INFO of InfoType SMB2_0_INFO_FILESYSTEM (MS-SMB2 3.3.5.20.2, MS-FSCC 2.5). */
#include <string.h>

#include "lib/utf16.h"
#include "smb2/smb2_file.h"

/* MS-FSCC 2.5 classes */
#define FileFsVolumeInformation 1
#define FileFsSizeInformation 3
#define FileFsDeviceInformation 4
#define FileFsAttributeInformation 5
#define FileFsControlInformation 6
#define FileFsFullSizeInformation 7
#define FileFsObjectIdInformation 8
#define FileFsSectorSizeInformation 11

/* FileSystemAttributes (MS-FSCC 2.5.1) */
#define FILE_CASE_SENSITIVE_SEARCH 0x00000001u
#define FILE_CASE_PRESERVED_NAMES 0x00000002u
#define FILE_UNICODE_ON_DISK 0x00000004u
#define FILE_PERSISTENT_ACLS 0x00000008u
#define FILE_SUPPORTS_SPARSE_FILES 0x00000040u
#define FILE_NAMED_STREAMS 0x00040000u

#define FILE_DEVICE_DISK 0x00000007u
#define FILE_DEVICE_IS_MOUNTED 0x00000020u
#define SECTOR 512u

/* A stable serial number for the share: FNV-1a of its name. */
static uint32_t volume_serial(const char *name)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static void put_sizes(struct wr *w, const struct vfs_fsstat *fs, bool full)
{
	uint32_t spu = fs->unit_size >= SECTOR ? fs->unit_size / SECTOR : 1;
	wr_u64(w, fs->total_units);
	wr_u64(w, fs->avail_units);
	if (full)
		wr_u64(w, fs->free_units);
	wr_u32(w, spu);
	wr_u32(w, SECTOR);
}

NTSTATUS smb2_fsinfo_query(struct smb2_req *req, struct smb2_open *op, uint8_t cls, struct wr *w)
{
	struct smb2_tree *t = req->tree;
	struct vfs_fsstat fs = {0};
	if (!t->vfs)
		return STATUS_INVALID_PARAMETER;
	if (cls == FileFsSizeInformation || cls == FileFsFullSizeInformation ||
	    cls == FileFsObjectIdInformation) {
		int rc = vfs_statfs(t->vfs, &fs);
		if (rc < 0)
			return smb2_file_status(rc);
	}
	switch (cls) {
	case FileFsVolumeInformation: {
		long n = utf16_len(t->share_name);
		wr_u64(w, req->srv->start_time); /* VolumeCreationTime */
		wr_u32(w, volume_serial(t->share_name));
		wr_u32(w, n > 0 ? (uint32_t)n : 0);
		wr_u8(w, 0); /* SupportsObjects */
		wr_u8(w, 0);
		if (n > 0)
			wr_utf16(w, t->share_name);
		return STATUS_SUCCESS;
	}
	case FileFsSizeInformation:
		put_sizes(w, &fs, false);
		return STATUS_SUCCESS;
	case FileFsFullSizeInformation:
		put_sizes(w, &fs, true);
		return STATUS_SUCCESS;
	case FileFsDeviceInformation:
		wr_u32(w, FILE_DEVICE_DISK);
		wr_u32(w, FILE_DEVICE_IS_MOUNTED);
		return STATUS_SUCCESS;
	case FileFsAttributeInformation:
		/* CASE_SENSITIVE_SEARCH says the file system can tell names by case (NTFS sets it
		   too); whether this share's lookups do is the share's case option */
		wr_u32(w, FILE_CASE_SENSITIVE_SEARCH | FILE_CASE_PRESERVED_NAMES |
			      FILE_UNICODE_ON_DISK | FILE_PERSISTENT_ACLS |
			      FILE_SUPPORTS_SPARSE_FILES | FILE_NAMED_STREAMS);
		wr_u32(w, 255);
		wr_u32(w, 8);
		wr_utf16(w, "NTFS");
		return STATUS_SUCCESS;
	case FileFsControlInformation:
		/* 2.5.2: no quotas: no filtering thresholds, default quota unlimited */
		wr_zero(w, 24);
		wr_u64(w, UINT64_MAX);
		wr_u64(w, UINT64_MAX);
		wr_u32(w, 0);
		wr_u32(w, 0);
		return STATUS_SUCCESS;
	case FileFsObjectIdInformation:
		/* 2.5.6: a volume object id derived from the file system id; no extended info */
		wr_u64(w, fs.fsid);
		wr_u32(w, volume_serial(t->share_name));
		wr_u32(w, 0);
		wr_zero(w, 48);
		return STATUS_SUCCESS;
	case FileFsSectorSizeInformation:
		for (int i = 0; i < 4; i++)
			wr_u32(w, SECTOR);
		wr_u32(w, 0x3); /* ALIGNED_DEVICE | PARTITION_ALIGNED_ON_DEVICE */
		wr_u32(w, 0);
		wr_u32(w, 0);
		return STATUS_SUCCESS;
	default:
		return STATUS_INVALID_INFO_CLASS;
	}
	(void)op;
}
