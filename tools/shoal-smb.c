/* shoal-smb: the SMB client CLI. The client library (src/client) is the subject of its own
 * issue; until it lands this program only says so, with a distinct exit code. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: shoal-smb [-c FILE] [-o NAME=VALUE]... [-U user%%pass] [-p PORT] "
		       "COMMAND ARGS\n");
		return 0;
	}
	fprintf(stderr, "shoal-smb: not yet implemented (the client library is a separate issue)\n");
	return 3;
}
