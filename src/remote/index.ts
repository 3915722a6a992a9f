/**
 * The remote layer as the activities use it: a Guest per VM and a ProxmoxNode per node, cached per process, and the
 * process's pool of SSH connections behind them (`sshPool`: the worker closes it at shutdown).
 */
import type { SshEndpoint } from '../inventory';
import type { Guest, ProxmoxNode } from './guest';
import { QgaGuest, QmNode } from './qga';
import { SshGuest } from './ssh-guest';
import { SshPool } from './ssh';

export type { Guest, GuestCommand, GuestProgress, GuestResult, ProxmoxNode, RunHooks } from './guest';
export {
  GuestExecFailed,
  GuestCommandTimeout,
  GuestResultLost,
  GuestUnreachable,
  HostKeyMismatch,
  InvalidGuestCommand,
  RemoteAuthFailed,
  RemoteError,
  RemoteUnavailable,
} from './errors';
export { hostKeyFingerprint, SshPool, type PoolSettings } from './ssh';
export { QgaGuest, QmNode } from './qga';
export { SshGuest } from './ssh-guest';

export interface GuestTarget {
  vmid: number;
  /** qga: `qm guest exec` through the node (the SOP's way); ssh: straight to the VM's own sshd */
  transport: 'qga' | 'ssh';
  node: SshEndpoint;
  /** the VM's own endpoint; required for transport 'ssh' */
  vmSsh?: SshEndpoint;
}

/** The SSH connections of this process's guests and nodes. */
export const sshPool = new SshPool();

const guests = new Map<string, Guest>();
const nodes = new Map<string, ProxmoxNode>();

const endpointKey = (e: SshEndpoint) => JSON.stringify([e.user, e.host, e.port, e.privateKeyPath, e.hostKeySha256]);

/** The Guest for one VM, the same object for the same target within this process. */
export function guestFor(input: GuestTarget): Guest {
  const endpoint = input.transport === 'ssh' ? input.vmSsh : input.node;
  if (!endpoint) throw new TypeError(`vm ${input.vmid}: transport 'ssh' needs vmSsh`);
  const key = JSON.stringify([input.transport, input.vmid, endpointKey(endpoint)]);
  let guest = guests.get(key);
  if (!guest) {
    guest =
      input.transport === 'ssh'
        ? new SshGuest(sshPool, endpoint, input.vmid)
        : new QgaGuest(sshPool, input.vmid, endpoint);
    guests.set(key, guest);
  }
  return guest;
}

/** The node's `qm`, the same object for the same endpoint within this process. */
export function nodeFor(endpoint: SshEndpoint): ProxmoxNode {
  const key = endpointKey(endpoint);
  let node = nodes.get(key);
  if (!node) {
    node = new QmNode(sshPool, endpoint);
    nodes.set(key, node);
  }
  return node;
}
