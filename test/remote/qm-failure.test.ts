import { classifyQmFailure, type QmFailure } from '../../src/remote/qga';

// qm's words as qemu-server prints them (QMPClient.pm, Monitor.pm, Agent.pm; Proxmox VE 8 and 9.1) and as qemu-ga
// answers (before 6.0, 7.2 in Debian 12, 8.1 and later upstream), each as it reaches qm's stderr.

/** QMPClient::cmd's die: the peer type is `qmp` for every command before qemu-server 9.0.26, `qga` since. */
const qmpClient = (pve: '8' | '9', execute: string, why: string) =>
  `VM 105 ${pve === '8' ? 'qmp' : 'qga'} command '${execute}' failed - ${why}`;

/** What QMPClient puts after " failed - " (open_connection, mux_input, mux_close, mux_timeout). */
const transport: [string, string, QmFailure][] = [
  ['timeout', 'got timeout', 'answer-lost'],
  ['closed', 'client closed connection', 'answer-lost'],
  ['stale answer on the shared socket', "got wrong command id '73190412' (expected 7319041)", 'answer-lost'],
  ['answer without an id', 'received response without command id', 'answer-lost'],
  ['half an answer', 'response is not complete', 'answer-lost'],
  ['the agent socket gone', 'unable to connect to VM 105 qga socket - No such file or directory', 'unreachable'],
  ['nobody on the socket', 'unable to connect to VM 105 qga socket - Connection refused', 'unreachable'],
  ['connect timed out', 'unable to connect to VM 105 qga socket - timeout after 31 retries', 'unreachable'],
];

const others: [string, string, QmFailure][] = [
  ['agent down (Agent.pm pings first)', 'QEMU guest agent is not running', 'unreachable'],
  ['VM stopped (Agent.pm)', 'VM 105 is not running', 'unreachable'],
  ['VM stopped between the checks (Monitor.pm)', 'VM 105 not running', 'unreachable'],
  ['PVE 9.1, no agent socket (Monitor.pm)', 'unable to open monitor socket', 'unreachable'],
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
    'frozen agent, qemu-ga before 6.0',
    'Agent error: The command guest-exec has been disabled for this instance',
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

describe.each(['8', '9'] as const)('classifyQmFailure, Proxmox VE %s', (pve) => {
  it.each(transport)('QMPClient: %s', (_case, why, expected) => {
    expect(classifyQmFailure(qmpClient(pve, 'guest-exec-status', why))).toBe(expected);
    expect(classifyQmFailure(qmpClient(pve, 'guest-exec', why))).toBe(expected);
  });
});

describe('classifyQmFailure, either version', () => {
  it.each(others)('%s', (_case, text, expected) => {
    expect(classifyQmFailure(text)).toBe(expected);
  });
});
