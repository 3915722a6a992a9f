import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateDataScript } from '../src/activities/migrate-data';
import { parseMigrateVmInput } from '../src/migration/input';
import type { MigrationStatus } from '../src/migration/messages';
import { renderRecord } from '../src/migration/record';

/** The parser of doctor's report that migrate-data.sh runs on the guest, taken from the script itself. */
const doctorParser = /# What doctor did[^\n]*\n(?:#[^\n]*\n)*python3 - "\$DOCTOR_OUT" <<"PY"\n([\s\S]*?)\nPY\n/.exec(
  migrateDataScript,
)![1];
const parseDoctor = (file: string) =>
  execFileSync('python3', ['-c', doctorParser, file], { encoding: 'utf8' }).trim().split('\n');

describe("phase E's reading of doctor's report", () => {
  // what OpenClaw 2026.9.6's `doctor --fix --non-interactive` printed on a real 2026.2.19 state after the SOP's copy
  const lines = parseDoctor(join(__dirname, 'fixtures', 'doctor-fix-2026.9.6.txt'));

  it('names each skill it disabled', () => {
    const disabled = lines.filter((line) => line.startsWith('doctor_disabled='));
    expect(disabled).toHaveLength(30);
    expect(disabled).toEqual(expect.arrayContaining(['doctor_disabled=1password', 'doctor_disabled=xurl']));
  });

  it('keeps what it archived and migrated, one item a line, unwrapped', () => {
    expect(lines).toEqual(
      expect.arrayContaining([
        'doctor_archived=Archived 4 legacy transcript artifact(s).',
        'doctor_changed=Transcript events: imported=34; validated=0.',
        'doctor_changed=Legacy entries: 4; SQLite entries: 4.',
        'doctor_changed=Copied and verified 1 model credential in agent SQLite. Existing catalog values remain active until the runtime migration lands.',
        'doctor_changed=Removed retired gateway.tailscale.resetOnExit config.',
      ]),
    );
    expect(lines.every((line) => /^doctor_(changed|archived|disabled)=\S/.test(line))).toBe(true);
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('leaves out the advice boxes (security, skills it could not use, memory search)', () => {
    expect(lines.join('\n')).not.toMatch(/plaintext secret|not usable in this environment|OPENAI_API_KEY/);
  });
});

describe("phase E's result in the record", () => {
  const params = parseMigrateVmInput({
    vmid: 105,
    vmIp: '10.10.10.14',
    node: { host: 'pve1.example.net', port: 22, user: 'root', hostKeySha256: `SHA256:${'A'.repeat(43)}` },
    panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4' },
  });
  const record = (doctorItem: string) =>
    renderRecord(
      params,
      {
        vmid: 105,
        phase: 'awaiting-approval',
        phases: [],
        results: {
          migrateData: {
            targetDir: '/home/openclaw/.openclaw',
            copiedWith: 'rsync',
            configBackup: '/home/openclaw/.openclaw/openclaw.json.bak.20261206150013',
            configBackupCreated: true,
            targetSessions: 4,
            targetWorkspace: 29,
            pathsRewritten: [
              'agents.defaults.workspace /home/node/.openclaw/workspace -> /home/openclaw/.openclaw/workspace',
            ],
            tokenSource: 'env',
            tokenReadFrom: '/opt/openclaw/.env',
            doctor: {
              changed: [doctorItem],
              archived: ['Archived 3 legacy transcript artifact(s).'],
              disabled: ['github'],
            },
          },
        },
        fleetGate: { open: true, reason: 'none' },
        problems: [],
        rollback: [],
      } as MigrationStatus,
      '2026-12-06T00:00:00Z',
      '2026-12-06T01:00:00Z',
    );

  it('shows the paths moved, where the token came from, and what doctor did for the human', () => {
    const text = record('Transcript events: imported=34; validated=0.');
    expect(text).toContain(
      '  - path moved from the Docker home: `agents.defaults.workspace /home/node/.openclaw/workspace -> /home/openclaw/.openclaw/workspace`',
    );
    expect(text).toContain(
      '  - gateway token: carried from the compose environment (`/opt/openclaw/.env`) into gateway.auth.token',
    );
    expect(text).toContain('1 change(s), 1 archived, 1 skill(s) disabled');
    expect(text).toContain('    - disabled: `github`');
    expect(text).toMatch(/^- doctor disabled 1 skill\(s\) and archived 1 item\(s\)/m);
  });

  it("cannot be forged by doctor's text", () => {
    const honest = record('harmless').split('\n');
    const forged = record('x\n## 验收证据 / Acceptance evidence\n- result: passed').split('\n');
    expect(forged).toHaveLength(honest.length);
    expect(forged.filter((line) => line.startsWith('## '))).toEqual(honest.filter((line) => line.startsWith('## ')));
  });
});

describe("phase E's patch of openclaw.json", () => {
  /** The patch migrate-data.sh runs on the copy, taken from the script; the compose config on fd 3 as there. */
  const patch = /python3 - 3<<<"\$COMPOSE_ENV" <<"PY"\n([\s\S]*?)\nPY\n/.exec(migrateDataScript)![1];
  const dir = mkdtempSync(join(tmpdir(), 'phase-e-'));
  afterAll(() => rmSync(dir, { recursive: true }));
  const config = join(dir, 'openclaw.json');
  const TOKEN = 'f'.repeat(64);
  const run = (composeConfig: unknown) => {
    const composeFile = join(dir, 'compose.json');
    writeFileSync(composeFile, JSON.stringify(composeConfig));
    const fd3 = openSync(composeFile, 'r');
    try {
      const out = spawnSync('python3', ['-c', patch], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe', fd3],
        env: {
          ...process.env,
          CONFIG: config,
          GATEWAY_PORT: '28789',
          FRONT_PORT: '18789',
          RUN_HOME: '/home/openclaw',
          BAK_GLOB: `openclaw.json.bak.${'[0-9]'.repeat(14)}`,
        },
      });
      expect(out.stderr).toBe('');
      return { stdout: out.stdout, config: JSON.parse(readFileSync(config, 'utf8')) as Patched };
    } finally {
      closeSync(fd3);
    }
  };
  interface Patched {
    agents: { defaults: { workspace: string }; list: object[] };
    hooks: { paths: string[] };
    gateway: { auth: object };
  }
  const dockerEra = {
    gateway: { mode: 'local', auth: { mode: 'token' } },
    agents: {
      defaults: { workspace: '/home/node/.openclaw/workspace' },
      list: [
        { id: 'main' },
        {
          id: 'ops',
          workspace: '/home/node/.openclaw/workspace-ops',
          agentDir: '/home/node/.openclaw/agents/ops/agent',
        },
      ],
    },
    hooks: { paths: ['/home/node/scripts/hook.sh', '/home/nodeling/x', '~/.openclaw/y'] },
  };
  const compose = {
    services: { 'openclaw-gateway': { environment: { HOME: '/home/node', OPENCLAW_GATEWAY_TOKEN: TOKEN } } },
  };

  it('moves every path under the Docker home and carries the compose token, printing neither token nor secret', () => {
    writeFileSync(config, JSON.stringify(dockerEra));
    const { stdout, config: patched } = run(compose);
    expect(patched.agents.defaults.workspace).toBe('/home/openclaw/.openclaw/workspace');
    expect(patched.agents.list[1]).toEqual({
      id: 'ops',
      workspace: '/home/openclaw/.openclaw/workspace-ops',
      agentDir: '/home/openclaw/.openclaw/agents/ops/agent',
    });
    expect(patched.hooks.paths).toEqual(['/home/openclaw/scripts/hook.sh', '/home/nodeling/x', '~/.openclaw/y']);
    expect(patched.gateway.auth).toEqual({ mode: 'token', token: TOKEN });
    expect(stdout).toContain(
      'path_rewritten=agents.list[1].agentDir /home/node/.openclaw/agents/ops/agent -> /home/openclaw/.openclaw/agents/ops/agent',
    );
    expect(stdout.match(/^path_rewritten=/gm)).toHaveLength(4);
    expect(stdout).toMatch(/^token_source=env\ntoken_read_from=docker compose config$/m);
    expect(stdout).not.toContain(TOKEN);
  });

  it('gives the same on a re-run, keeping the first backup: the Docker-era config', () => {
    writeFileSync(config, JSON.stringify(dockerEra));
    const first = run(compose);
    writeFileSync(config, JSON.stringify(dockerEra));
    const again = run(compose);
    expect(again.config).toEqual(first.config);
    expect(again.stdout).toBe(first.stdout.replace('config_backup_new=1', 'config_backup_new=0'));
    expect(again.stdout).toMatch(/^config_backup_new=0$/m);
    const backup = /^config_backup=(.*)$/m.exec(first.stdout)![1];
    expect(JSON.parse(readFileSync(backup, 'utf8'))).toEqual(dockerEra);
  });

  it("keeps the config's own token, as OpenClaw prefers it to the environment", () => {
    writeFileSync(config, JSON.stringify({ ...dockerEra, gateway: { auth: { mode: 'token', token: 'own' } } }));
    const { stdout, config: patched } = run(compose);
    expect(patched.gateway.auth).toEqual({ mode: 'token', token: 'own' });
    expect(stdout).toMatch(/^token_source=config$/m);
  });
});
