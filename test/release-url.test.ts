import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { deployPanelCommand, releaseTarballUrl } from '../src/activities/deploy-panel';
import { InventorySchema } from '../src/inventory';
import { parseMigrateVmInput } from '../src/migration/input';
import { describeIssues } from '../src/schema';

/**
 * What is checked is what is fetched: the release base URL the input's check accepts is handed on in the WHATWG
 * parser's serialisation, and curl (the program the guest's deploy-panel script runs; the host's is the same) asks
 * the host the check allowed. curl goes through a recording proxy on loopback, so no request leaves this machine:
 * the proxy answers 502 to each, after writing down which host curl asked for.
 */
const REPO = 'Bianshumeng/openclaw-panel-public';
const TAG = 'v2026.02.20-r4';
const FINGERPRINT = `SHA256:${'A'.repeat(43)}`;
const inventoryWith = (baseUrl: string) => ({
  node: { host: 'pve1', hostKeySha256: FINGERPRINT },
  panelRelease: { repo: REPO, tag: TAG, baseUrl },
  vms: [{ vmid: 105, ip: '10.0.0.5' }],
});

let proxy: Server;
let proxyPort: number;
/** what curl asked the proxy for: the request line's target (`host:port` of a CONNECT, else the absolute URL) */
const asked: string[] = [];

beforeAll(async () => {
  proxy = createServer((socket) => {
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      asked.push(head.split(' ')[1]);
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
  });
  await new Promise<void>((ready) => proxy.listen(0, '127.0.0.1', ready));
  proxyPort = (proxy.address() as { port: number }).port;
});
afterAll(() => proxy.close());

/** The host curl asks for `url`, through the recording proxy (never a real outside address). */
async function hostCurlAsks(url: string): Promise<string> {
  const before = asked.length;
  await new Promise<void>((done) =>
    execFile(
      'curl',
      ['-sS', '--max-time', '20', '--proxy', `http://127.0.0.1:${proxyPort}`, '--noproxy', '', '-o', '/dev/null', url],
      { env: { PATH: process.env.PATH } },
      () => done(),
    ),
  );
  expect(asked.length).toBe(before + 1);
  const target = asked[before];
  return /^[a-z]+:\/\//.test(target) ? new URL(target).host : target;
}

describe('a release base URL the check accepts', () => {
  it.each([
    ['GitHub', 'https://api.github.com', 'api.github.com:443'],
    ['a GitHub Enterprise API', 'https://ghe.example.com/api/v3', 'ghe.example.com:443'],
    ['the lab release server', 'http://127.0.0.1:8099', '127.0.0.1:8099'],
    ['localhost', 'http://localhost:8099/', 'localhost:8099'],
    ['IPv6 loopback', 'http://[::1]:8099', '[::1]:8099'],
    ['upper case and the default port', 'HTTPS://API.GitHub.com:443/', 'api.github.com:443'],
    ['dot segments in the path', 'https://ghe.example.com/x/../api/v3', 'ghe.example.com:443'],
  ])('%s: curl asks the host the check allowed', async (_, raw, host) => {
    const parsed = InventorySchema.parse(inventoryWith(raw));
    const checked = new URL(parsed.panelRelease.baseUrl);
    expect(parsed.panelRelease.baseUrl).toBe(checked.href);
    const tarball = releaseTarballUrl(parsed.panelRelease.baseUrl, REPO, TAG);
    expect(tarball.endsWith(`/repos/${REPO}/tarball/${TAG}`)).toBe(true);
    const asks = await hostCurlAsks(tarball);
    expect(asks).toBe(host);
    expect(asks.replace(/:\d+$/, '')).toBe(checked.hostname);
  });

  it('reaches the deploy-panel script as the canonical tarball URL, not the text the operator wrote', () => {
    const params = parseMigrateVmInput({
      vmid: 105,
      vmIp: '10.0.0.5',
      node: { host: 'pve1', hostKeySha256: FINGERPRINT },
      panelRelease: { repo: REPO, tag: TAG, baseUrl: 'HTTPS://API.GitHub.com:443' },
    });
    expect(deployPanelCommand(params).args?.[2]).toBe(`https://api.github.com/repos/${REPO}/tarball/${TAG}`);
  });
});

describe('a release base URL on which parsers disagree', () => {
  it("is the finding: curl given the raw text asks another host than WHATWG's parser reads", async () => {
    const raw = 'http://127.0.0.1\\@evil.example';
    expect(new URL(raw).hostname).toBe('127.0.0.1');
    expect(await hostCurlAsks(`${raw}/repos/${REPO}/tarball/${TAG}`)).toBe('evil.example');
  });

  it.each([
    ['a backslash before @', 'http://127.0.0.1\\@evil.example', /backslashes/],
    ['a backslash as a slash', 'https:\\\\evil.example', /backslashes/],
    ['userinfo', 'http://127.0.0.1@evil.example', /no '@' before the host/],
    ['an empty userinfo', 'https://@api.github.com', /no '@' before the host/],
    ['a space', 'http://127.0.0.1 @evil.example', /spaces/],
    ['a tab, which WHATWG drops', 'http://127.0.0.1\t.evil.example', /control/],
    ['a non-ASCII host', 'https://аpi.github.com', /non-ASCII/],
    ['a hex IPv4 host', 'http://0x7f.1:8099', /host is written as parsers read it \('127\.0\.0\.1', not '0x7f\.1'\)/],
    ['a percent-encoded host', 'https://api%2egithub.com', /host is written as parsers read it/],
    ['a scheme without //', 'http:127.0.0.1', /written https:\/\/host/],
    ['a query', 'https://api.github.com/?x=1', /without a query or fragment/],
    ['a fragment', 'https://api.github.com#x', /without a query or fragment/],
    ['plain http elsewhere', 'http://evil.example', /http only to 127\.0\.0\.1/],
    ['plain http to a name ending in a dot', 'http://localhost.:8099', /http only to 127\.0\.0\.1/],
  ])('%s is refused, naming the field', (_, raw, rule) => {
    const parsed = InventorySchema.safeParse(inventoryWith(raw));
    expect(parsed.success).toBe(false);
    expect(describeIssues(parsed.error!, '(file)')).toEqual([expect.stringMatching(/^panelRelease\.baseUrl: /)]);
    expect(describeIssues(parsed.error!, '(file)')[0]).toMatch(rule);
  });
});
