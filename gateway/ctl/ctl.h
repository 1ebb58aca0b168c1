/* gatewayctl, the operator's tool: the command table's entry type, exit codes,
 * and one extern per command (each command lives in its own ctl_<name>.c). */
#ifndef GW_CTL_H
#define GW_CTL_H

#define CTL_EXIT_OK	0
#define CTL_EXIT_FAIL	1	/* the command ran and failed */
#define CTL_EXIT_USAGE	2	/* bad command line: nothing was done */

struct ctl_command {
	const char	*name;		/* first word after "gatewayctl" */
	const char	*synopsis;	/* arguments, for the usage text */
	const char	*help;		/* one line */
	/* argv[0] is the command name; returns a CTL_EXIT_* code. */
	int		(*run)(int argc, char *argv[]);
};

/* Adding a command: a ctl_<name>.c defining one of these, its extern here, and
 * its address in gatewayctl.c's table. */
extern const struct ctl_command	ctl_keygen_command;
extern const struct ctl_command	ctl_audit_command;
extern const struct ctl_command	ctl_outbox_command;
extern const struct ctl_command	ctl_report_command;
extern const struct ctl_command	ctl_alerts_command;
extern const struct ctl_command	ctl_receipt_command;
extern const struct ctl_command	ctl_accounts_command;
extern const struct ctl_command	ctl_inspect_command;

#endif
