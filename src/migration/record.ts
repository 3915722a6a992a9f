import { printable } from '../schema';
import { releaseIn } from '../inventory';
import type { MigrateVmParams } from './input';
import { UNKNOWN, type BotListing, type InstallResult, type PhaseResults, type TokenSource } from './contracts';
import type { MigrationStatus } from './messages';
import { inSeconds, outageTimes } from './outage';
import { phaseOrder } from './phases';

/**
 * How the record tells what each phase did, from its result: its lines under the actions, the first after the SOP's
 * stage letter, or `own section` (scan, backup, acceptance). Every result key must say which, so a new phase's row
 * does not compile until the record tells it.
 */
type PhaseActions = {
  [K in keyof PhaseResults]-?: ((result: NonNullable<PhaseResults[K]>) => string[]) | 'own section';
};

/**
 * The OpenClaw release jump (issue 18), e.g. `openclaw 2026.2.19 (Docker-era) → 2026.9.6 (installed; policy:
 * installer)`: before phase D (a plan) what the policy will install, after it what was installed.
 */
export function versionJump(
  params: Pick<MigrateVmParams, 'openclawVersion'>,
  bot: BotListing | undefined,
  installed: InstallResult | undefined,
): string {
  const policy = params.openclawVersion;
  const before = bot ? (releaseIn(bot.version) ?? bot.version) : UNKNOWN;
  const planned = policy === 'installer' ? "the installer's release" : policy === 'docker' ? before : policy;
  const after = installed
    ? `${releaseIn(installed.openclawVersion) ?? installed.openclawVersion} (installed`
    : `${planned} (planned`;
  return `openclaw ${before} (Docker-era) → ${after}; policy: ${policy})`;
}

/** The record's file name as the SOP (§8) names it: `YYYY-MM-DD_<VMID>_去Docker直装迁移记录.md`. */
export function recordFileName(vmid: number, date: string): string {
  return `${date.slice(0, 10)}_${vmid}_去Docker直装迁移记录.md`;
}

/*
 * Every operator- or guest-supplied text goes through one of these: it can neither end the line (no heading,
 * list, table row or fence of its own) nor format what follows it.
 */
/** Printable text on one line with Markdown's inline syntax escaped. */
const inline = (text: string | number) =>
  printable(String(text).replace(/\r?\n/g, ' ')).replace(/[\\`*_[\]<>|~]/g, (c) => `\\${c}`);
/** A code span whose delimiter is longer than any run of backticks inside it. */
const code = (text: string | number) => {
  const body = printable(String(text).replace(/\r?\n/g, ' '));
  const ticks = '`'.repeat(Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length)) + 1);
  return ticks.length > 1 || body.startsWith(' ') ? `${ticks} ${body} ${ticks}` : `${ticks}${body}${ticks}`;
};
/** A fenced block, its fence longer than any run of backticks in the text, which is cut at 8 KiB. */
const fence = (text: string) => {
  const cut = text.length > 8192 ? `${text.slice(0, 8192)}\n[… cut here]` : text;
  const body = cut.trim().split('\n').map(printable).join('\n');
  const ticks = '`'.repeat(Math.max(2, ...(body.match(/`+/g) ?? []).map((run) => run.length)) + 1);
  return `${ticks}\n${body}\n${ticks}`;
};

/** Where phase E found the gateway token (`tokenSource`), for the record. */
const tokenLine: Record<TokenSource, (readFrom: string) => string> = {
  config: () => 'in openclaw.json, kept',
  env: (readFrom) => `carried from the compose environment (${code(readFrom)}) into gateway.auth.token`,
  none: () => 'none in openclaw.json nor in the compose environment',
};

/**
 * The migration record (SOP §8): machine, who and when, backup and hashes, actions and key outputs, acceptance
 * evidence, risks and rollback points, problems met. Pure: the workflow renders it, an activity writes it.
 * Holds no secrets: the phases report derived facts only (paths, counts, codes, versions, hashes).
 */
export function renderRecord(
  params: MigrateVmParams,
  status: MigrationStatus,
  startedAt: string,
  endedAt: string,
): string {
  const { scan, backup, stopDocker, migrateData, acceptance, removeDocker } = status.results;
  const lines: string[] = [];
  const add = (...more: string[]) => lines.push(...more);

  add(`# ${startedAt.slice(0, 10)}_${params.vmid}_去Docker直装迁移记录`, '');
  add('## 基本信息 / Machine');
  add(
    `- vmid: \`${params.vmid}\`${scan ? ` (${code(scan.hostname)}, ${inline(scan.os)})` : ''}, IP ${code(params.vmIp)}`,
  );
  const endpoint = inline(`${params.node.user}@${params.node.host}:${params.node.port}`);
  const node = params.nodeName ? `${inline(params.nodeName)} (${endpoint})` : endpoint;
  add(
    `- 执行入口 / via: ${params.transport === 'qga' ? `node ${node}, \`qm guest exec ${params.vmid}\`` : `ssh straight to the VM`}`,
  );
  add(`- 执行人 / by: ${inline(params.startedBy)}; started ${startedAt}, ended ${endedAt}`);
  add(`- 结果 / outcome: **${status.phase}**`);
  add(
    `- 顺序 / order: ${params.prestage ? 'pre-staged: after the verified backup, D, the pre-copy E, F and the units G while Docker ran; C only for the final copy E and the start G' : "the SOP's (§4)"}`,
    '',
  );

  add('## 迁移前扫描 / Scan (read-only)');
  if (scan) {
    add(`- qm status: ${inline(scan.vmStatus)}`);
    add(
      `- present: ${scan.existing.map(code).join(', ') || '(none)'}; missing: ${scan.missing.map(code).join(', ') || '(none)'}`,
    );
    add(
      `- source: ${scan.sourceSessions} session files, ${scan.sourceWorkspace} workspace files; ${scan.backupBytes} bytes to back up, ${scan.freeBytes} free`,
    );
    if (scan.bot)
      add(
        `- the Docker-era bot (its own CLI): ${inline(scan.bot.version)}; ${listed(scan.bot.sessions, 'sessions')}, ` +
          `${listed(scan.bot.cronJobs, 'cron jobs')}; token kept in: ${inline(scan.tokenSource ?? UNKNOWN)}`,
        ...scan.bot.errors.map((error) => `  - did not answer: ${inline(error)}`),
      );
    add('', fence(scan.evidence));
  } else add('- not reached');
  add('');

  add('## 备份与校验 / Backup (gate)');
  if (backup) {
    add(`- directory: ${code(backup.dir)}${backup.reused ? ' (an earlier verified backup, reused)' : ''}`);
    add('- `sha256sum -c SHA256SUMS.txt`: all OK; `tar -tzf` of each tarball: OK');
    add('', fence(backup.sha256.join('\n')));
  } else add('- not made');
  add('');

  add('## 执行动作 / Actions and key outputs');
  /** What each phase that changes the machine did, after its SOP stage letter, in the order the run took them. */
  const actions: PhaseActions = {
    scan: 'own section',
    backup: 'own section',
    acceptance: 'own section',
    stopDocker: (result) =>
      result.restartPolicies
        ? [
            'stop Docker (not deleted): `docker update --restart=no`, then `docker compose stop` in /opt/openclaw',
            `  - restart policies before (rollback restores them): ${result.restartPolicies.map((p) => code(`${p.container} ${p.policy}${p.maximumRetryCount ? `:${p.maximumRetryCount}` : ''}`)).join(', ') || '(no container)'}`,
            '',
            fence(result.containers),
            '',
          ]
        : ['stop Docker (not deleted): `docker compose stop` in /opt/openclaw', '', fence(result.containers), ''],
    install: (result) => [
      `install: ${result.installedNow ? code(params.installCommand) : 'already installed, nothing run'}`,
      `  - node ${inline(result.nodeVersion)} at ${code(result.nodePath)}; openclaw ${inline(result.openclawVersion)} at ${code(result.openclawPath)}`,
    ],
    preCopy: (result) => [
      result.copiedWith === 'rsync'
        ? `pre-copy while Docker ran: \`/data/openclaw/\` → ${code(`${result.targetDir}/`)} (\`rsync -aHAX\`), ${result.targetFiles} files, ${result.targetBytes} bytes; no patch yet`
        : 'pre-copy: none (no rsync in the VM): the copy after Docker stopped is the whole `cp -a`',
    ],
    migrateData: (result) => [
      `data: \`/data/openclaw/\` → ${code(`${result.targetDir}/`)} (${result.copiedWith === 'rsync' ? (params.prestage ? '`rsync -aHAX --delete --checksum`: the difference since the pre-copy' : '`rsync -aHAX --delete`') : '`cp -a`'}), owner ${params.runAs.user}${result.userCreated ? ' (a system user the migration made)' : ''}`,
      `  - openclaw.json: gateway.port ${params.ports.gateway}, remote.url ws://127.0.0.1:${params.ports.gateway}; backup ${code(result.configBackup)}`,
      ...(result.staleLeasesCleared
        ? [
            `  - ${result.staleLeasesCleared} lease(s) of the stopped Docker gateway cleared from the copy's state database`,
          ]
        : []),
      ...(result.pathsRewritten ?? []).map((path) => `  - path moved from the Docker home: ${code(path)}`),
      ...(result.tokenSource
        ? [`  - gateway token: ${tokenLine[result.tokenSource](result.tokenReadFrom ?? '')}`]
        : []),
      ...(result.doctor
        ? [
            `  - \`openclaw doctor --fix --non-interactive\` on the copy: ${result.doctor.changed.length} change(s), ${result.doctor.archived.length} archived, ${result.doctor.disabled.length} skill(s) disabled`,
            ...result.doctor.changed.map((item) => `    - changed: ${inline(item)}`),
            ...result.doctor.archived.map((item) => `    - archived: ${inline(item)}`),
            ...(result.doctor.moved ?? []).map((item) => `    - moved out of the workspace: ${code(item)}`),
            ...(result.doctor.edited ?? []).map((item) => `    - edited in the workspace: ${code(item)}`),
            ...(result.doctor.disabled.length
              ? [`    - disabled: ${result.doctor.disabled.map(code).join(', ')}`]
              : []),
          ]
        : []),
    ],
    deployPanel: (result) => [
      `panel: ${inline(params.panelRelease.repo)} ${inline(params.panelRelease.tag)} in /opt/openclaw-panel (${result.fetched ? 'fetched' : 'already applied'}); /etc/openclaw-panel/panel.config.json (600, owner ${params.runAs.user})${result.configFixed?.length ? `; brought to the panel's types: ${result.configFixed.map(code).join(', ')}` : ''}`,
    ],
    stageUnits: (result) => [
      `systemd units written while Docker ran, not started: openclaw-gateway ${inline(result.gatewayEnabled ?? '?')}, openclaw-panel ${inline(result.panelEnabled ?? '?')}`,
    ],
    systemdUnits: (result) => [
      `systemd: openclaw-gateway ${inline(result.gatewayActive)}, openclaw-panel ${inline(result.panelActive)} (enabled; User=${params.runAs.user}${params.runAs.hardened ? ', hardened' : ''})`,
    ],
    removeDocker: ({ report, output }) =>
      report
        ? [
            `Docker removed: \`docker compose down --remove-orphans\`${params.removeImages ? ", the project's images" : ''}, \`docker image prune -f\` (reclaimed ${inline(report.pruneReclaimed)})`,
            `  - images removed: ${report.imagesRemoved.map(code).join(', ') || '(none)'}; left: ${report.imagesLeft.map(code).join(', ') || '(none)'}; volumes left: ${report.volumesLeft.map(code).join(', ') || '(none)'}`,
            `  - \`docker system df\` (type, total, active, size, reclaimable) before: ${report.diskUsageBefore.map(code).join(', ')}; after: ${report.diskUsage.map(code).join(', ')}`,
            '',
            fence(output),
          ]
        : ['Docker removed: `docker compose down --remove-orphans`, `docker image prune -f`', '', fence(output)],
    sharedResources: (result) => [
      `共享资源 / shared resources (under the node's lock): ledger ${code(params.ledgerPath)} row ${code(result.row.replace(/\t/g, ' | '))}; ` +
        `NAT ${result.natMappings.map((m) => `${m.external} -> ${params.vmIp}:${m.guestPort}`).join(', ') || '(no mapping found)'}`,
    ],
  };
  for (const phase of phaseOrder(params.prestage)) {
    const result = status.results[phase.resultKey];
    const render = actions[phase.resultKey] as ((result: unknown) => string[]) | 'own section';
    if (result === undefined || render === 'own section') continue;
    const [first, ...rest] = render(result);
    add(`- ${'stage' in phase ? `${phase.stage} ` : ''}${first}`, ...rest);
  }
  add('');

  add('## 验收证据 / Acceptance evidence');
  if (acceptance) {
    add(`- result: ${acceptance.passed ? 'passed' : `FAILED: ${inline(acceptance.failures.join('; '))}`}`);
    for (const [key, value] of Object.entries(acceptance.checks)) add(`- ${inline(key)}: ${code(value)}`);
    if (acceptance.bots) add('', ...botsSideBySide(acceptance.bots.before, acceptance.bots.after));
    for (const difference of acceptance.bots?.differences ?? []) add(`- differs: ${inline(difference)}`);
  } else add('- not reached');
  if (status.outage)
    add(
      `- 用户感知的中断 / outage: **${inSeconds(status.outage.ms)}** by the guest's clock: ${outageTimes(status.outage)} ` +
        "(the direct install's answer: the first 200 with the login through both fronts; Docker's: the first 200 on " +
        'both its ports)',
    );
  if (status.approval)
    add(
      `- 用户验收 / human decision: **${status.approval.decision}** by ${inline(status.approval.by)}` +
        `${status.approval.identity ? ` (client identity ${code(status.approval.identity)}, as the client stated it)` : ''}` +
        ` at ${status.approval.at}: ${inline(status.approval.reason)}`,
    );
  add('');

  add('## 风险与回滚 / Risks and rollback');
  if (backup) add(`- data rollback point: ${code(`${backup.dir}/*.tgz`)} (kept)`);
  if (migrateData) add(`- config rollback point: ${code(migrateData.configBackup)}`);
  const doctor = migrateData?.doctor;
  const [moved, edited] = [doctor?.moved?.length ?? 0, doctor?.edited?.length ?? 0];
  if (doctor && (doctor.disabled.length || doctor.archived.length || moved || edited))
    add(
      `- doctor disabled ${doctor.disabled.length} skill(s), archived ${doctor.archived.length} item(s), moved ${moved} and edited ${edited} of the user's workspace files on the direct install (listed above): for the human's decision`,
    );
  if (migrateData?.tokenSource === 'none')
    add('- no gateway token in openclaw.json nor in the compose environment: the direct gateway makes its own');
  if (!removeDocker && stopDocker)
    add(
      '- Docker containers are kept (stopped or restarted): `cd /opt/openclaw && docker compose start` brings them back',
    );
  if (status.rollback.length > 0) add('- rollback done:', ...status.rollback.map((step) => `  - ${inline(step)}`));
  add('');

  add('## 本机特殊问题 / Problems met');
  if (status.problems.length === 0) add('- none');
  else add(...status.problems.map((problem) => `- ${inline(problem)}`));
  add('', '## 阶段 / Phases', '| phase | status | started | ended |', '| --- | --- | --- | --- |');
  for (const phase of status.phases)
    add(`| ${phase.name} | ${phase.status} | ${phase.startedAt} | ${phase.endedAt ?? ''} |`);
  add('');
  return lines.join('\n');
}

function listed<T>(items: T[] | typeof UNKNOWN, what: string): string {
  return items === UNKNOWN ? `${what} unknown` : `${items.length} ${what}`;
}

/** The two bots' own listings in one table: what the Docker-era bot listed in the scan, what the direct one lists. */
export function botsSideBySide(before: BotListing | undefined, after: BotListing): string[] {
  const rows: [string, string, string][] = [['version', before?.version ?? '-', after.version]];
  const byKey = <T>(
    items: T[] | typeof UNKNOWN | undefined,
    key: (item: T) => string,
    value: (item: T) => string,
  ): Map<string, string> => new Map(items && items !== UNKNOWN ? items.map((i) => [key(i), value(i)]) : []);
  const table = <T>(
    what: string,
    was: T[] | typeof UNKNOWN | undefined,
    now: T[] | typeof UNKNOWN,
    key: (item: T) => string,
    value: (item: T) => string,
  ) => {
    if (was === UNKNOWN || now === UNKNOWN)
      rows.push([what, was === UNKNOWN ? UNKNOWN : '-', now === UNKNOWN ? UNKNOWN : 'listed']);
    const left = byKey(was, key, value);
    const right = byKey(now, key, value);
    for (const name of new Set([...left.keys(), ...right.keys()]))
      rows.push([`${what} ${name}`, left.get(name) ?? '-', right.get(name) ?? '-']);
  };
  table(
    'session',
    before?.sessions,
    after.sessions,
    (s) => s.key,
    (s) => `${s.messages} messages`,
  );
  table(
    'workspace of',
    before?.workspaces,
    after.workspaces,
    (w) => w.agent,
    (w) => w.workspace,
  );
  table(
    'cron job',
    before?.cronJobs,
    after.cronJobs,
    (j) => j.name,
    (j) => (j.enabled ? 'enabled' : 'disabled'),
  );
  const count = (items: string[] | typeof UNKNOWN | undefined) =>
    items === undefined ? '-' : items === UNKNOWN ? UNKNOWN : `${items.length} enabled`;
  rows.push(['skills', count(before?.skillsEnabled), count(after.skillsEnabled)]);
  rows.push(['plugins', count(before?.pluginsEnabled), count(after.pluginsEnabled)]);
  const cell = (text: string) => inline(text).replace(/\|/g, '\\|');
  return [
    '| | Docker-era bot (scan) | direct bot (acceptance) |',
    '| --- | --- | --- |',
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
}
