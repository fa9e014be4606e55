/*
 * nfq_accept.c: the reference point of scripts/bench, a plain C
 * libnetfilter_queue loop that accepts every packet of queue N (argv[1],
 * default 0), copying whole packets as conduit does. Built by the bench when
 * gcc and libnetfilter-queue-dev are installed. The nftables rule comes from
 * `nfq-accept -bind=false`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <stdio.h>
#include <stdlib.h>

static int accept_all(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	(void)msg;
	(void)data;
	return nfq_set_verdict(qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL);
}

int main(int argc, char **argv)
{
	static char buf[0x10000 + 4096];
	int num = argc > 1 ? atoi(argv[1]) : 0;
	struct nfq_handle *h = nfq_open();
	if (!h) {
		perror("nfq_open");
		return 1;
	}
	struct nfq_q_handle *qh = nfq_create_queue(h, num, accept_all, NULL);
	if (!qh) {
		perror("nfq_create_queue");
		return 1;
	}
	if (nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0 || nfq_set_queue_maxlen(qh, 4096) < 0) {
		perror("configure queue");
		return 1;
	}
	nfq_set_queue_flags(qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO);
	int fd = nfq_fd(h);
	for (;;) {
		int n = recv(fd, buf, sizeof(buf), 0);
		if (n >= 0)
			nfq_handle_packet(h, buf, n);
		else if (errno != EINTR && errno != ENOBUFS)
			return 1;
	}
}
