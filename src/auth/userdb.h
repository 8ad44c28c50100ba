/* The user database: one file (default STATE_DIR/users.db, mode 0600) shared by shoald, which
 * reads it, and shoalctl, which edits it whether or not shoald runs.
 *
 * Format: one user per line, "name:uid:gid:rid:NTHASH_HEX:flags\n" (flags: "-" for none, or
 * "d" for disabled); '#' comments. Passwords are never stored, only NT hashes. Writers take an
 * exclusive flock on "FILE.lock", write "FILE.tmp" (0600) and rename it over FILE, so readers
 * always see a whole file. Readers reload when the file's (inode, size, mtime) changes, so a
 * running shoald accepts a new user at once. */
#ifndef SHOAL_AUTH_USERDB_H
#define SHOAL_AUTH_USERDB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define USERDB_NAME_MAX 64

struct userdb_entry {
	char name[USERDB_NAME_MAX + 1];
	uint32_t uid;
	uint32_t gid;
	uint32_t rid; /* relative id of the user's SID under the server's domain SID */
	uint8_t nt_hash[16];
	bool disabled;
};

struct userdb; /* thread-safe handle for readers (shoald) */

/* Opens (the file need not exist yet: it then holds no users). NULL on -ENOMEM. */
struct userdb *userdb_open(const char *path);
void userdb_close(struct userdb *db);
/* Case-insensitive lookup after reloading if the file changed; copies the entry out.
 * 0, -ENOENT, or -errno when the file cannot be read (the previous contents stay in use). */
int userdb_lookup(struct userdb *db, const char *name, struct userdb_entry *out);

/* ---- editing (shoalctl) ---- */
/* Adds a user. uid/gid: (uint32_t)-1 means "take them from the system account of the same name"
 * (getpwnam); -ENOENT if there is none. -EEXIST if the user exists. The rid is chosen as
 * 1000 + 2 * uid (unique while uids are). */
int userdb_add(const char *path, const char *name, const char *password, uint32_t uid,
	       uint32_t gid);
int userdb_del(const char *path, const char *name);                         /* -ENOENT */
int userdb_passwd(const char *path, const char *name, const char *password); /* -ENOENT */
/* Reads every entry into a malloc'ed array (*n entries); 0 or -errno. */
int userdb_list(const char *path, struct userdb_entry **out, int *n);
/* A name is valid when 1..64 chars of [A-Za-z0-9._-] not starting with '-' or '.'. */
bool userdb_name_valid(const char *name);

#endif
