/* Cross-connection state (DESIGN.md section 6). Owned by the state layer's author; the lead's
 * smb2_server.c calls only state_db_new() and state_db_free(): keep those two. */
#ifndef SHOAL_STATE_H
#define SHOAL_STATE_H

struct state_db;
struct state_db *state_db_new(void);
void state_db_free(struct state_db *db);

#endif
