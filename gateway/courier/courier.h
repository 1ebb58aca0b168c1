/* The courier role: makes the gateway's outbound deliveries, one IPC_DELIVER
 * from the keeper in, one IPC_DELIVERED back, and holds only client keys. */
#ifndef GW_COURIER_H
#define GW_COURIER_H

struct config;

/* Runs the courier on keeper_fd (a stream socketpair end, owned from here)
 * until the keeper channel closes (0), SIGTERM or SIGINT (0), or the keeper
 * breaks the protocol (1). Start-up failures exit through fatal. cf is
 * borrowed and must stay valid. Returns the process exit code. */
int	courier_main(struct config *cf, int keeper_fd);

#endif
