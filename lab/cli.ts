import { parseArgs } from 'node:util';
import { labDown, labStatus, labUp, LabOptionsSchema, type LabOptions } from './lab';
import { GUEST_REGISTRY_PORT } from './registry';

const usage = `usage: npm run lab -- <up|status|down> [options]

  up      start the lab's Proxmox node(s) and its Docker-era OpenClaw guests (systemd-nspawn containers of a
          Debian 12 image with the real systemd, Docker and qemu-ga, built once per machine, the first time
          in a few minutes); writes an inventory
          --guests N              how many guests (3)
          --nodes N               how many nodes, each with its sshd, host key, qm, NAT rules and ledger;
                                  guest i is on node i mod N (1)
          --stopped VMID          the node has that VM, powered off: never booted (repeatable)
          --not-openclaw VMID     that guest runs no OpenClaw: Debian, systemd, Docker, qemu-ga (repeatable)
          --fault VMID:KIND       inject a fault (repeatable): agent-down, install-hang, disk-full,
                                  backup-corrupt, ssh-drop, port-taken, unit-fails, gateway-500,
                                  restart-always (the compose file says restart: always)
          --direct-ssh VMID       that guest also runs its own sshd (repeatable)
          --workspace-files N     the lab's user files added to each guest's workspace (300)
          --big-file-mib N        size of the workspace's large file (24)
          --docker-era RELEASE    the guests' Docker-era OpenClaw: 2026.2.19 or 2026.9.6 (DEFAULT_DOCKER_ERA_RELEASE)
          --docker-era-of VMID:RELEASE  that guest's own (repeatable)
          --disk-size SIZE        each guest's disk (2g)
          --pve 8|9               the Proxmox VE whose wording the node's qm speaks (9: 9.1 and later)
          --install prefix|registry  how the installer stand-in installs OpenClaw: unpack the prepared
                                  prefix (prefix, the default, seconds) or as the real installer does,
                                  Node 24 then npm install -g openclaw through the lab's registry
  status  what runs, and where the inventory is
  down    stop everything the lab started and remove its files

The lab lives in $OPENCLAW_LAB_DIR (default: <state dir>/lab). Everything listens on 127.0.0.1 or inside
the lab's own network namespaces.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      guests: { type: 'string' },
      nodes: { type: 'string' },
      stopped: { type: 'string', multiple: true },
      'not-openclaw': { type: 'string', multiple: true },
      fault: { type: 'string', multiple: true },
      'direct-ssh': { type: 'string', multiple: true },
      'workspace-files': { type: 'string' },
      'big-file-mib': { type: 'string' },
      'docker-era': { type: 'string' },
      'docker-era-of': { type: 'string', multiple: true },
      'disk-size': { type: 'string' },
      pve: { type: 'string' },
      install: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const number = (text: string | undefined) => (text === undefined ? undefined : Number(text));
  switch (positionals[0]) {
    case 'up': {
      const input: LabOptions = {
        guests: number(values.guests),
        nodes: number(values.nodes),
        stopped: (values.stopped ?? []).map(Number),
        notOpenClaw: (values['not-openclaw'] ?? []).map(Number),
        faults: values.fault ?? [],
        directSsh: (values['direct-ssh'] ?? []).map(Number),
        workspaceFiles: number(values['workspace-files']),
        bigFileMiB: number(values['big-file-mib']),
        dockerEra: values['docker-era'] as LabOptions['dockerEra'],
        dockerEraOf: Object.fromEntries(
          (values['docker-era-of'] ?? []).map((pair) => pair.split(':')),
        ) as LabOptions['dockerEraOf'],
        diskSize: values['disk-size'],
        pve: values.pve as LabOptions['pve'],
        install: values.install as LabOptions['install'],
      };
      const parsed = LabOptionsSchema.safeParse(input);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) console.error(`--${String(issue.path[0])}: ${issue.message}`);
        return 2;
      }
      const started = Date.now();
      const state = await labUp(parsed.data);
      const status = await labStatus(state.labDir);
      if (values.json) {
        console.log(JSON.stringify(status));
      } else {
        console.log(`lab up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        printStatus(status);
      }
      return 0;
    }
    case 'status': {
      const status = await labStatus();
      if (values.json) console.log(JSON.stringify(status));
      else printStatus(status);
      return status.up ? 0 : 3;
    }
    case 'down':
      await labDown();
      console.log('lab down');
      return 0;
    default:
      console.log(usage);
      return values.help ? 0 : 2;
  }
}

function printStatus(status: Awaited<ReturnType<typeof labStatus>>): void {
  if (!status.nodes || !status.ssh) {
    console.log('lab: not up');
    return;
  }
  const { privateKeyPath, knownHostsPath } = status.ssh;
  for (const node of status.nodes) {
    console.log(`node ${node.name}: ${node.alive ? 'up' : 'DOWN'}; try:`);
    console.log(
      `  ssh -i ${privateKeyPath} -o UserKnownHostsFile=${knownHostsPath} -p ${node.sshPort} root@127.0.0.1 qm list`,
    );
  }
  if (status.registry) {
    console.log(
      `npm registry: ${status.registry.alive ? 'up' : 'DOWN'} on ${status.registry.socket}, ` +
        `http://127.0.0.1:${GUEST_REGISTRY_PORT}/ in each guest`,
    );
  }
  for (const guest of status.guests) {
    console.log(
      `guest ${guest.vmid} ${guest.name} on ${guest.node}: ${guest.running ? 'running' : 'stopped'}, ` +
        `agent ${guest.agent ? 'up' : 'down'}`,
    );
  }
  console.log(`inventory: ${status.inventoryPath}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`lab: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
