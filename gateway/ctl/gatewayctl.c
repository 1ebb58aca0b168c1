/* gatewayctl: the operator's command-line tool. main() finds the command in the
 * table and hands it the rest of the command line. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "ctl/ctl.h"

/* Every command, in the order the usage text lists them. */
static const struct ctl_command *const gatewayctl_commands[] = {
	&ctl_keygen_command,
	&ctl_audit_command,
	&ctl_receipt_command,
	&ctl_outbox_command,
	&ctl_report_command,
	&ctl_alerts_command,
	&ctl_accounts_command,
	&ctl_inspect_command,
};

static void
gatewayctl_usage(void)
{
	size_t	i;

	fprintf(stderr, "usage: gatewayctl <command> [arguments]\n\ncommands:\n");
	for (i = 0; i < nitems(gatewayctl_commands); i++)
		fprintf(stderr, "  %s %s\n      %s\n", gatewayctl_commands[i]->name,
		    gatewayctl_commands[i]->synopsis, gatewayctl_commands[i]->help);
	fprintf(stderr, "\n\"gatewayctl <command> --help\" describes a command.\n");
}

int
main(int argc, char *argv[])
{
	size_t	i;

	/* Warnings and errors only: the tool's results go to stdout, its log
	 * lines (JSON, as in every role) to stderr. */
	log_init("gatewayctl", LOG_LVL_WARN);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		gatewayctl_usage();
		return CTL_EXIT_USAGE;
	}
	for (i = 0; i < nitems(gatewayctl_commands); i++)
		if (strcmp(argv[1], gatewayctl_commands[i]->name) == 0)
			return gatewayctl_commands[i]->run(argc - 1, argv + 1);
	fprintf(stderr, "gatewayctl: unknown command \"%s\"\n\n", argv[1]);
	gatewayctl_usage();
	return CTL_EXIT_USAGE;
}
