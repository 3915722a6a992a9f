/*
 * GET /api/update/check?target=bot|panel, answered as the release's src/direct-update.js answers it
 * (v2026.02.20-r4), inside `{ ok: true, result: { …, target, upgradeMode } }`:
 *
 *   panel: currentTag = `tag` of <update.panel_app_dir>/.panel-release.json, else `v` + package.json's version
 *          there (a panel that lost its marker reports its package version), else "". latestTag from GitHub's
 *          `releases/latest` of update.panel_release_repo; unreachable (always, in the lab) → latestTag "",
 *          updateAvailable false and the error as `warning`.
 *   bot:   currentTag = the first YYYY.N.N[-x] of `openclaw --version` (15 s), then `openclaw update status`
 *          (30 s; offline, 2026.9.6's took ~13 s in a lab guest and exits 0 with `Update │ npm · npm latest
 *          unknown`: latestTag ""); its failure is a `warning`, not an error. A failing
 *          `openclaw --version` is an error: 400 `{ ok: false, message }`.
 */
/* global fetch, process */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

// The lab's one change to the release's lookup: a test on the host points it at loopback (OPENCLAW_LAB_GITHUB_API),
// so that nothing it runs reaches past the machine; in a guest (a network namespace of its own) GitHub is out of
// reach as it is.
const GITHUB_API = process.env.OPENCLAW_LAB_GITHUB_API || 'https://api.github.com';
const VERSION = /([0-9]{4}\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z._-]+)?)/;
/** Where `openclaw update status` names the latest version, most specific first. */
const LATEST = [
  /npm update\s+([0-9][0-9A-Za-z._-]*)/i,
  /latest(?:\s+version)?\s*[:：]?\s*([0-9][0-9A-Za-z._-]*)/i,
  /available[^\n]*\b([0-9]{4}\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z._-]+)?)/i,
  VERSION,
];

const stripV = (tag) => tag.trim().replace(/^v/i, '');

function run(command, args, timeout) {
  return new Promise((resolve) => {
    execFile(command, args, { timeout, maxBuffer: 5 << 20 }, (err, stdout, stderr) => {
      resolve({ ok: !err, stdout: String(stdout).trim(), stderr: String(stderr).trim(), message: err?.message ?? '' });
    });
  });
}

async function readJson(file) {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return {};
  }
}

async function panelCurrentTag(appDir) {
  const marker = await readJson(path.join(appDir, '.panel-release.json'));
  if (typeof marker.tag === 'string' && marker.tag.trim()) return marker.tag.trim();
  const pkg = await readJson(path.join(appDir, 'package.json'));
  const version = typeof pkg.version === 'string' ? pkg.version.trim() : '';
  return version && !/^v/i.test(version) ? `v${version}` : version;
}

async function latestRelease(repo, token) {
  const headers = { accept: 'application/vnd.github+json', 'user-agent': 'openclaw-panel-updater' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${GITHUB_API}/repos/${repo}/releases/latest`, { headers });
  if (!res.ok) throw new Error(`GitHub API 请求失败: ${res.status}`);
  const body = await res.json();
  if (!body.tag_name) throw new Error(`发布信息不完整（repo=${repo}）`);
  return { tag: String(body.tag_name), publishedAt: String(body.published_at ?? '') };
}

async function checkPanel(update) {
  const releaseRepo = update.panel_release_repo.trim() || 'Bianshumeng/openclaw-panel-public';
  const currentTag = await panelCurrentTag(path.resolve(update.panel_app_dir.trim() || '/opt/openclaw-panel'));
  const base = { ok: true, currentTag, releaseRepo };
  try {
    const latest = await latestRelease(releaseRepo, update.github_token.trim());
    return {
      ...base,
      latestTag: latest.tag,
      latestPublishedAt: latest.publishedAt,
      updateAvailable: currentTag ? stripV(currentTag) !== stripV(latest.tag) : true,
      warning: '',
    };
  } catch (err) {
    return { ...base, latestTag: '', latestPublishedAt: null, updateAvailable: false, warning: err.message };
  }
}

async function checkBot(update) {
  const releaseRepo = update.bot_release_repo.trim();
  const version = await run('openclaw', ['--version'], 15_000);
  if (!version.ok) throw new Error(version.stderr || version.message || '无法读取 openclaw 当前版本');
  const currentTag = stripV(VERSION.exec(version.stdout)?.[1] ?? version.stdout.split(/\s+/)[0]);
  const status = await run('openclaw', ['update', 'status'], 30_000);
  if (!status.ok) {
    return {
      ok: true,
      currentTag,
      latestTag: '',
      updateAvailable: false,
      warning: status.stderr || status.message,
      installMethod: 'global',
      strategy: 'package-manager',
      releaseRepo,
    };
  }
  // its table: │ Install │ pnpm … │ and │ Update │ available … │
  const row = (name) => new RegExp(`│\\s*${name}\\s*│\\s*([^│\\n]+)\\s*│`, 'i').exec(status.stdout)?.[1]?.trim() ?? '';
  const fromSource = /(git|source|checkout|workspace|repo)/i.test(row('Install'));
  const base = {
    ok: true,
    currentTag,
    installMethod: fromSource ? 'source' : 'global',
    strategy: fromSource ? 'openclaw-update' : 'package-manager',
    releaseRepo,
  };
  const updateRow = row('Update');
  // the release's order: the Update row, then the whole output; offline 2026.9.6 says `npm · npm latest unknown`
  const latestTag = stripV(
    [updateRow, status.stdout]
      .flatMap((source) => LATEST.map((pattern) => pattern.exec(source)?.[1]))
      .find((tag) => tag !== undefined) ?? '',
  );
  const available = /available/i.test(updateRow) && !/up[\s-]?to[\s-]?date/i.test(updateRow);
  return {
    ...base,
    latestTag,
    updateAvailable: available || (latestTag !== '' && latestTag !== currentTag),
    warning: '',
  };
}

/** The answer's `result`; throws (→ 400) when the bot's version cannot be read. */
export async function updateCheck(config, target) {
  const result = target === 'panel' ? await checkPanel(config.update) : await checkBot(config.update);
  return { ...result, target, upgradeMode: target === 'panel' ? 'staged-apply' : 'direct' };
}
