import { classifyQmFailure, type QmFailure } from '../../src/remote/qga';

// qm's words as qemu-server prints them (QMPClient.pm, Agent.pm; Proxmox VE 8 and 9.1) and as qemu-ga answers
// (7.2 in Debian 12, 8.1 and later upstream), each as it reaches qm's stderr.
const wordings: [string, string, QmFailure][] = [
  ['PVE 8, timeout', "VM 105 qmp command 'guest-exec-status' failed - got timeout", 'unreachable'],
  ['PVE 9.1, timeout', "VM 105 qga command 'guest-exec-status' failed - got timeout", 'unreachable'],
  ['PVE 8, closed', "VM 105 qmp command 'guest-exec' failed - client closed connection", 'unreachable'],
  ['PVE 9.1, closed', "VM 105 qga command 'guest-exec' failed - client closed connection", 'unreachable'],
  [
    'PVE 9.1, stale answer on the shared socket',
    "VM 105 qga command 'guest-exec-status' failed - got wrong command id '41230' (expected 41231)",
    'unreachable',
  ],
  [
    'PVE 9.1, no socket',
    "VM 105 qga command 'guest-ping' failed - unable to connect to VM 105 qga socket - No such file or directory",
    'unreachable',
  ],
  ['PVE 8, no socket', 'unable to connect to VM 105 qga socket - timeout after 31 retries', 'unreachable'],
  ['agent down', 'QEMU guest agent is not running', 'unreachable'],
  ['VM stopped', 'VM 105 is not running', 'unreachable'],
  ['no agent', 'No QEMU guest agent configured', 'unreachable'],
  ['qemu-ga 7.2, pid read', "Agent error: Invalid parameter 'pid'", 'pid-unknown'],
  ['qemu-ga 8.1+, pid read', 'Agent error: PID 4711 does not exist', 'pid-unknown'],
  ['frozen agent', 'Agent error: Command guest-exec has been disabled: the agent is in frozen state', 'agent-frozen'],
  [
    'frozen agent, status',
    'Agent error: Command guest-exec-status has been disabled: the agent is in frozen state',
    'agent-frozen',
  ],
  [
    'the agent cannot start the program',
    "Agent error: Guest agent command failed, error was 'Failed to execute child process “/bin/bash” (No such file or directory)'",
    'failed',
  ],
  ['qm misused', "400 Parameter verification failed.\npid: type check ('integer') failed - got 'x'", 'failed'],
  ['unknown VM', "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist", 'failed'],
];

describe('classifyQmFailure', () => {
  it.each(wordings)('%s', (_case, text, expected) => {
    expect(classifyQmFailure(text)).toBe(expected);
  });
});
