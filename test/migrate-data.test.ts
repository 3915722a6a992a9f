import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/** migrate-data.sh's accounting of the user's workspace files across doctor, taken from the script itself. */
const accountWorkspaces = /account_workspaces\(\) \{\n {2}python3 - "\$@" <<"PY"\n([\s\S]*?)\nPY\n/.exec(
  migrateDataScript,
)![1];
const account = (...args: string[]) => spawnSync('python3', ['-c', accountWorkspaces, ...args], { encoding: 'utf8' });

describe("phase E's exit when doctor fails", () => {
  const fn = /^doctor_failure_exit\(\) \{.*\}$/m.exec(migrateDataScript)![0];
  const exitFor = (output: string) => {
    const file = join(mkdtempSync(join(tmpdir(), 'doctor-out-')), 'doctor.txt');
    writeFileSync(file, output);
    return execFileSync('bash', ['-c', `${fn}\ndoctor_failure_exit "$1"`, 'test', file], { encoding: 'utf8' }).trim();
  };

  it('is a plain failure, retried, when 2026.9.6 refused only because its own state lease timed out', () => {
    // what 2026.9.6's doctor printed on a loaded machine (the lab, two test files at a time)
    expect(
      exitFor(
        '  - Agent database maintenance deferred: agent database maintenance lease\n' +
          '    core:agent-database-maintenance/global was lost | state lease heartbeat did not become ready (phase=startup,\n' +
          'Doctor stopped because a state migration refused to continue. Resolve the reported migration failure before retrying.\n',
      ),
    ).toBe('1');
  });

  it('is DoctorFailed, not retried, for any other failure', () => {
    expect(exitFor('Doctor stopped because a state migration refused to continue.\n')).toBe('3');
  });
});

describe("phase E's accounting of the user's workspace across doctor", () => {
  let state: string;
  const write = (path: string, content: string) => {
    mkdirSync(join(state, path, '..'), { recursive: true });
    writeFileSync(join(state, path), content);
  };
  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), 'account-'));
    write(
      'openclaw.json',
      JSON.stringify({ agents: { list: [{ id: 'ops', workspace: join(state, 'workspace-ops') }] } }),
    );
    write('workspace/MEMORY.md', '# MEMORY\nthe teal lighthouse keeps the backups\n');
    write('workspace/HEARTBEAT.md', '# HEARTBEAT\ncheck the backups\n');
    write('workspace/TOOLS.md', '# TOOLS\nlocal notes\n');
    write('workspace/AGENTS.md', '# AGENTS\n');
    write('workspace/.openclaw/workspace-state.json', '{"version":1}\n');
    write('workspace-ops/notes.md', 'ops notes\n');
    expect(account('snapshot', state, `${state}.before`).status).toBe(0);
  });
  afterEach(() => {
    for (const path of [state, `${state}.before`, `${state}.moved`]) rmSync(path, { recursive: true, force: true });
  });
  const compare = () => account('compare', state, `${state}.before`, `${state}.moved`);

  it("lists what 2026.9.6's doctor moved aside byte for byte and what it edited, for the acceptance and the record", () => {
    // as the real doctor did on a 2026.2.19 state: HEARTBEAT.md into a cron job, TOOLS.md merged into AGENTS.md,
    // each original kept under ~/.openclaw/backups/
    renameSync(join(state, 'workspace/HEARTBEAT.md'), join(state, 'hb.md'));
    write('backups/heartbeat-migration/main-1.md', readFileSync(join(state, 'hb.md'), 'utf8'));
    rmSync(join(state, 'hb.md'));
    write('backups/tools-md-migration/main-2.md', readFileSync(join(state, 'workspace/TOOLS.md'), 'utf8'));
    rmSync(join(state, 'workspace/TOOLS.md'));
    write('workspace/AGENTS.md', '# AGENTS\n# TOOLS\nlocal notes\n');
    // and its workspace setup state archived beside itself: still in the workspace, so not in the acceptance's list
    const setup = join(state, 'workspace/.openclaw/workspace-state.json');
    renameSync(setup, `${setup}.migrated.c568fe38.4fcb5b9b`);
    const result = compare();
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      'doctor_moved=workspace/.openclaw/workspace-state.json -> workspace/.openclaw/workspace-state.json.migrated.c568fe38.4fcb5b9b',
      'doctor_edited=workspace/AGENTS.md',
      'doctor_moved=workspace/HEARTBEAT.md -> backups/heartbeat-migration/main-1.md',
      'doctor_moved=workspace/TOOLS.md -> backups/tools-md-migration/main-2.md',
    ]);
    expect(readFileSync(`${state}.moved`, 'utf8')).toBe(
      `${join(state, 'workspace/HEARTBEAT.md')}\n${join(state, 'workspace/TOOLS.md')}\n`,
    );
  });

  it('fails when a file left a workspace with no copy of it left, in any workspace the config names', () => {
    rmSync(join(state, 'workspace-ops/notes.md'));
    write('backups/notes.md', 'ops notes, rewritten\n'); // not the same bytes: not a copy
    const result = compare();
    expect(result.status).toBe(4);
    expect(result.stderr).toContain(`doctor removed ${join(state, 'workspace-ops/notes.md')} from the workspace`);
  });

  it('says nothing of a workspace doctor left alone', () => {
    expect(compare()).toMatchObject({ status: 0, stdout: '' });
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
    expect(text).toMatch(
      /^- doctor disabled 1 skill\(s\), archived 1 item\(s\), moved 0 and edited 0 of the user's workspace files/m,
    );
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

describe("phase E's state database, after C", () => {
  /** The step migrate-data.sh runs on the copy's state database, taken from the script. */
  const step =
    /STATE_DB="\$TARGET_DIR\/state\/openclaw.sqlite" RUN_STATE="\$TARGET_DIR" python3 - <<"PY"\n([\s\S]*?)\nPY\n/.exec(
      migrateDataScript,
    )![1];
  const dir = mkdtempSync(join(tmpdir(), 'phase-e-db-'));
  afterAll(() => rmSync(dir, { recursive: true }));
  const db = join(dir, 'openclaw.sqlite');
  const sql = (statements: string) =>
    execFileSync(
      'python3',
      [
        '-c',
        'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print("\\n".join("|".join(map(str, r)) for r in c.executescript(sys.argv[2]) and c.execute("SELECT store_key, job_id FROM cron_jobs UNION ALL SELECT store_key, job_id FROM cron_run_logs ORDER BY 2, 1"))); c.commit()',
        db,
        statements,
      ],
      { encoding: 'utf8' },
    ).trim();

  it("moves the cron store's keys from the Docker home (2026.9.6 keys jobs by the store's path), clears the leases", () => {
    // as a Docker-era 2026.9.6 state holds them (state/openclaw.sqlite of the lab's seeded state)
    sql(`CREATE TABLE cron_jobs (store_key TEXT, job_id TEXT);
      CREATE TABLE cron_run_logs (store_key TEXT, job_id TEXT, seq INTEGER);
      CREATE TABLE state_leases (name TEXT);
      INSERT INTO cron_jobs VALUES ('/home/node/.openclaw/cron/jobs.json', 'daily'), ('/srv/other/jobs.json', 'other');
      INSERT INTO cron_run_logs VALUES ('/home/node/.openclaw/cron/jobs.json', 'daily', 1);
      INSERT INTO state_leases VALUES ('gateway-owner');`);
    const out = spawnSync('python3', ['-c', step], {
      encoding: 'utf8',
      env: { ...process.env, STATE_DB: db, RUN_STATE: '/home/openclaw/.openclaw' },
    });
    expect(out.stderr).toBe('');
    expect(out.stdout.trim().split('\n')).toEqual([
      'path_rewritten=state/openclaw.sqlite:cron_jobs.store_key /home/node/.openclaw/cron/jobs.json -> /home/openclaw/.openclaw/cron/jobs.json',
      'path_rewritten=state/openclaw.sqlite:cron_run_logs.store_key /home/node/.openclaw/cron/jobs.json -> /home/openclaw/.openclaw/cron/jobs.json',
      'stale_leases_cleared=1',
    ]);
    expect(sql('SELECT 1;').split('\n')).toEqual([
      '/home/openclaw/.openclaw/cron/jobs.json|daily',
      '/home/openclaw/.openclaw/cron/jobs.json|daily',
      '/srv/other/jobs.json|other',
    ]);
  });
});
