import { labForFile } from '../support/lab';
import { directSshSuite } from './direct-ssh.suite';
import { qgaSuite } from './qga.suite';
import { qmOverSshSuite } from './qm-over-ssh.suite';
import { sshGuestSuite } from './ssh-guest.suite';
import { sshSuite } from './ssh.suite';

/**
 * The transports, each suite in its own file, on one lab of two guests, 106 also reached over its own sshd (seed
 * 004's machines): they only need a node and guests, and booting a lab for each cost more than all their tests.
 * 105 runs no OpenClaw (no suite asks it of a bot: its gateway's start is spared); 106's Docker-era containers are
 * what its direct SSH lists. Each suite leaves the guests as it found them (faults cleared, the node's qm back to
 * Proxmox VE 9 wording).
 */
const lab = labForFile({ guests: 2, directSsh: [106], notOpenClaw: [105] });
sshSuite(lab);
qmOverSshSuite(lab);
qgaSuite(lab);
sshGuestSuite(lab);
directSshSuite(lab);
