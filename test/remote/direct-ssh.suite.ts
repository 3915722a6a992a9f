import { readFileSync } from 'node:fs';
import { InventorySchema, soleNode } from '../../src/inventory';
import { directSsh, type Lab } from '../support/lab';

/** Seed 004's machines: no Proxmox node in between, the operator reaches the VM's own sshd. */
export const directSshSuite = (labOfFile: () => Lab) =>
  describe('a guest reached straight over ssh', () => {
    let lab: Lab;
    beforeAll(() => {
      lab = labOfFile();
    });

    it('is in the inventory with its own endpoint and host key, and answers as the VM', () => {
      const inventory = InventorySchema.parse(JSON.parse(readFileSync(lab.inventoryPath, 'utf8')));
      expect(inventory.vms[0].ssh).toBeUndefined();
      const ssh = inventory.vms[1].ssh!;
      expect(ssh).toMatchObject({ host: '127.0.0.1', port: lab.guests[1].directSsh!.port, user: 'root' });
      expect(ssh.privateKeyPath).toBe(lab.privateKeyPath);
      expect(ssh.hostKeySha256).not.toBe(soleNode(inventory).hostKeySha256);

      const run = directSsh(lab, 106, 'hostname; docker ps --format "{{.Names}}" | sort');
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('vm-lab-0002\nopenclaw-gateway\nopenclaw-panel\n');
    });
  });
