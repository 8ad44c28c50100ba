/* FSCTL_QUERY_NETWORK_INTERFACE_INFO (MS-SMB2 2.2.32.5, 3.3.5.15.11): the server's addresses as
 * NETWORK_INTERFACE_INFO entries. Answered whether or not multichannel is offered (Windows
 * does the same); every up interface with an IPv4 or IPv6 address is listed, loopback included
 * so a client on 127.0.0.1 sees the address it uses. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "smb2/smb2.h"

#define NETIF_ENTRY_LEN 152
/* a link whose speed the kernel does not report (virtual, loopback): 1 Gbit/s nominal */
#define NETIF_DEFAULT_SPEED 1000000000ull

static uint64_t link_speed(const char *ifname)
{
	char p[96];
	snprintf(p, sizeof(p), "/sys/class/net/%s/speed", ifname);
	FILE *f = fopen(p, "r");
	long mbit = -1;
	if (f) {
		if (fscanf(f, "%ld", &mbit) != 1)
			mbit = -1;
		fclose(f);
	}
	return mbit > 0 ? (uint64_t)mbit * 1000000ull : NETIF_DEFAULT_SPEED;
}

/* One entry; the caller links it to the next by patching Next. */
static void put_entry(struct wr *w, const struct ifaddrs *ifa)
{
	uint8_t sa[128] = {0};
	if (ifa->ifa_addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ifa->ifa_addr;
		put_le16(sa, 0x0002);		  /* InterNetwork */
		memcpy(sa + 4, &in->sin_addr, 4); /* port 0, the address in network order */
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ifa->ifa_addr;
		put_le16(sa, 0x0017); /* InterNetworkV6 */
		memcpy(sa + 8, &in6->sin6_addr, 16);
		put_le32(sa + 24, in6->sin6_scope_id);
	}
	wr_u32(w, 0);
	wr_u32(w, if_nametoindex(ifa->ifa_name));
	wr_u32(w, 0); /* Capability: neither RSS nor RDMA announced */
	wr_u32(w, 0);
	wr_u64(w, link_speed(ifa->ifa_name));
	wr_bytes(w, sa, sizeof(sa));
}

NTSTATUS smb2_fsctl_netif(uint64_t fid0, uint64_t fid1, uint32_t max_out, struct wr *out)
{
	if (fid0 != UINT64_MAX || fid1 != UINT64_MAX)
		return STATUS_INVALID_PARAMETER;
	struct ifaddrs *list;
	if (getifaddrs(&list) < 0)
		return STATUS_INSUFFICIENT_RESOURCES;
	size_t start = out->len, prev = SIZE_MAX;
	for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP) ||
		    (ifa->ifa_addr->sa_family != AF_INET && ifa->ifa_addr->sa_family != AF_INET6))
			continue;
		if (prev != SIZE_MAX)
			wr_set_u32(out, prev, (uint32_t)(out->len - prev));
		prev = out->len;
		put_entry(out, ifa);
	}
	freeifaddrs(list);
	if (!wr_ok(out))
		return STATUS_NO_MEMORY;
	/* 3.3.5.15.11: a list that does not fit is BUFFER_TOO_SMALL, never truncated */
	if (out->len - start > max_out) {
		out->len = start;
		return STATUS_BUFFER_TOO_SMALL;
	}
	return STATUS_SUCCESS;
}
