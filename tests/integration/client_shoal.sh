#!/usr/bin/env bash
# The client-library suite (client_samba.sh) against shoald instead of Samba's smbd.
SHOAL_SMB_SERVER=shoal exec "$(dirname "$0")/client_samba.sh" "$@"
