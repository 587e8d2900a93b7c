// SPDX-License-Identifier: MIT
/*
 * vmbus-ctl: send one command to a running vmbus-host's --disk-control
 * socket and print its answer.
 *
 *   vmbus-ctl SOCKET add PATH[,ro]     attach a disk as the lowest free LUN
 *   vmbus-ctl SOCKET remove LUN        detach one
 *   vmbus-ctl SOCKET list              the LUNs and their formats
 *
 * The answer is printed as the host sent it. Exit status: 0 when it
 * begins with "ok", 1 for "error: ...", 2 when the host could not be
 * reached or the command line is wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PROG	"vmbus-ctl"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " SOCKET COMMAND [ARGS]\n"
		"Send COMMAND to the vmbus-host started with --disk-control SOCKET.\n"
		"\n"
		"Commands:\n"
		"  add PATH[,ro]   attach a disk image as the lowest free LUN; the guest\n"
		"                  is told its LUNs changed and rescans\n"
		"  remove LUN      detach a LUN (refused while I/O is in flight)\n"
		"  list            the LUNs and their image formats\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[4096], answer[4096];
	size_t len = 0, got = 0;
	ssize_t n;
	int i, fd;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, PROG ": %s: path too long for a UNIX socket\n", argv[1]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		size_t l = strlen(argv[i]);

		if (len + l + 2 > sizeof(line)) {
			fprintf(stderr, PROG ": command too long\n");
			return 2;
		}
		if (i > 2)
			line[len++] = ' ';
		memcpy(line + len, argv[i], l);
		len += l;
	}
	line[len++] = '\n';
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, PROG ": cannot reach %s: %s (is vmbus-host running with "
			"--disk-control %s?)\n", argv[1], strerror(errno), argv[1]);
		return 2;
	}
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fprintf(stderr, PROG ": sending to %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	shutdown(fd, SHUT_WR);
	while (got < sizeof(answer) - 1 &&
	       (n = recv(fd, answer + got, sizeof(answer) - 1 - got, 0)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": reading the answer: %s\n", strerror(errno));
			return 2;
		}
		got += (size_t)n;
	}
	close(fd);
	answer[got] = 0;
	if (!got) {
		fprintf(stderr, PROG ": the host closed the connection without an answer\n");
		return 2;
	}
	fputs(answer, stdout);
	return strncmp(answer, "ok", 2) ? 1 : 0;
}
