import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { temporalConfig, workflowUiLink } from '../src/config';
import { devServerSearchAttributeFlags } from '../src/search-attributes';

const dir = mkdtempSync(join(tmpdir(), 'openclaw-config-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n');
const crt = file('client.pem', '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n');
const key = file('client.key', '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
/** A FIFO no one writes to: a blocking open or read of it would hang the CLI for good. */
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);
const toml = file(
  'temporal.toml',
  `[profile.default]
address = "127.0.0.1:7233"

[profile.prod]
address = "temporal.internal:7233"
namespace = "migrations"

[profile.prod.tls]
server_ca_cert_path = "${ca}"
client_cert_path = "${crt}"
client_key_path = "${key}"
server_name = "frontend.temporal.internal"

[profile.prod.grpc_meta]
x-team = "platform"

[profile.cloud]
address = "migrations.abcde.tmprl.cloud:7233"
namespace = "migrations.abcde"
api_key = "secret-key"
`,
);

describe('temporalConfig', () => {
  it('defaults to the local dev server and the project task queue', () => {
    expect(temporalConfig({})).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: 'openclaw-migrate',
      uiUrl: 'http://127.0.0.1:8233',
      connection: { address: '127.0.0.1:7233' },
      source: 'the environment',
    });
  });

  it('reads the profile TEMPORAL_PROFILE names: TLS with server CA, client certificate, server name, metadata', () => {
    const config = temporalConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' });
    expect(config).toMatchObject({ address: 'temporal.internal:7233', namespace: 'migrations' });
    expect(config.source).toBe(`profile 'prod' of ${toml}`);
    expect(config.connection).toEqual({
      address: 'temporal.internal:7233',
      metadata: { 'x-team': 'platform' },
      tls: {
        serverNameOverride: 'frontend.temporal.internal',
        serverRootCACertificate: expect.anything(),
        clientCertPair: { crt: expect.anything(), key: expect.anything() },
      },
    });
    const tls = config.connection.tls as { clientCertPair: { key: Uint8Array }; serverRootCACertificate: Uint8Array };
    expect(Buffer.from(tls.serverRootCACertificate).toString()).toContain('\nca\n');
    expect(Buffer.from(tls.clientCertPair.key).toString()).toContain('PRIVATE KEY');
  });

  it('turns TLS on for an API key', () => {
    const config = temporalConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' });
    expect(config.connection).toEqual({
      address: 'migrations.abcde.tmprl.cloud:7233',
      apiKey: 'secret-key',
      tls: true,
    });
    expect(config.namespace).toBe('migrations.abcde');
  });

  it('lets the environment override the profile, as the temporal CLI does', () => {
    const config = temporalConfig({
      TEMPORAL_CONFIG_FILE: toml,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_ADDRESS: 'temporal-b.internal:7300',
      TEMPORAL_NAMESPACE: 'staging',
      TEMPORAL_GRPC_META_X_TEAM: 'oncall',
      TEMPORAL_TASK_QUEUE: 'q2',
      TEMPORAL_UI_URL: 'https://temporal-ui.internal',
    });
    expect(config).toMatchObject({
      address: 'temporal-b.internal:7300',
      namespace: 'staging',
      taskQueue: 'q2',
      uiUrl: 'https://temporal-ui.internal',
      connection: { address: 'temporal-b.internal:7300', metadata: { 'x-team': 'oncall' } },
    });
  });

  it('drops a gRPC header of the profile that the environment sets empty', () => {
    const config = temporalConfig({
      TEMPORAL_CONFIG_FILE: toml,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_GRPC_META_X_TEAM: '',
    });
    expect(config.connection.metadata).toEqual({});
  });

  it('takes TLS from the environment alone', () => {
    const config = temporalConfig({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: crt,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
    });
    expect(config.connection.tls).toMatchObject({ clientCertPair: { crt: expect.anything(), key: expect.anything() } });
  });

  it('finds the default file under ~/.config/temporalio, as the temporal CLI does', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.config/temporalio'), { recursive: true });
    writeFileSync(join(home, '.config/temporalio/temporal.toml'), '[profile.default]\naddress = "10.1.2.3:7233"\n');
    expect(temporalConfig({ HOME: home }).address).toBe('10.1.2.3:7233');
    expect(temporalConfig({ HOME: home }).source).toBe(`profile 'default' of ${home}/.config/temporalio/temporal.toml`);
  });

  it('hands on addresses and the UI URL in the canonical form it checked', () => {
    const config = temporalConfig({
      TEMPORAL_ADDRESS: 'Temporal.Internal:7233',
      TEMPORAL_UI_URL: 'HTTPS://UI.example:443/',
      OPENCLAW_METRICS_ADDRESS: '[0:0::1]:9464',
    });
    expect(config.connection.address).toBe('temporal.internal:7233');
    expect(config.uiUrl).toBe('https://ui.example');
    expect(config.metricsAddress).toBe('[::1]:9464');
  });

  it('reads the metrics address', () => {
    expect(temporalConfig({ OPENCLAW_METRICS_ADDRESS: '0.0.0.0:9464' }).metricsAddress).toBe('0.0.0.0:9464');
  });

  describe('says what is wrong', () => {
    it.each([
      [
        'a missing file',
        { TEMPORAL_CONFIG_FILE: join(dir, 'nope.toml') },
        /TEMPORAL_CONFIG_FILE names .*nope\.toml, which does not exist/,
      ],
      [
        'a missing profile',
        { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prdo' },
        /temporal\.toml: it has no profile 'prdo'/,
      ],
      [
        'a profile without a file',
        { TEMPORAL_PROFILE: 'prod' },
        /TEMPORAL_PROFILE is 'prod' but there is no config file/,
      ],
      [
        'a misspelt key',
        { TEMPORAL_CONFIG_FILE: file('typo.toml', '[profile.default]\nadress = "x:1"\n') },
        /typo\.toml: key\(s\) unrecognized in profile\.default: adress/,
      ],
      ['broken TOML', { TEMPORAL_CONFIG_FILE: file('broken.toml', '[profile.default\n') }, /broken\.toml: /],
      ['a bad address', { TEMPORAL_ADDRESS: 'no-port-here' }, /the environment:\n {2}address: must be host:port/],
      ['a bad task queue', { TEMPORAL_TASK_QUEUE: 'q'.repeat(300) }, /TEMPORAL_TASK_QUEUE: /],
      ['userinfo in the address', { TEMPORAL_ADDRESS: 'x@evil.example:7233' }, /address: must be host:port/],
      ['a backslash in the address', { TEMPORAL_ADDRESS: '127.0.0.1\\@evil:7233' }, /address: must be host:port/],
      ['port 0', { TEMPORAL_ADDRESS: '127.0.0.1:0' }, /address: must be host:port/],
      ['a UI URL that is not http', { TEMPORAL_UI_URL: 'javascript:alert(1)' }, /TEMPORAL_UI_URL: /],
      [
        'a bad metrics address',
        { OPENCLAW_METRICS_ADDRESS: 'everywhere' },
        /OPENCLAW_METRICS_ADDRESS: must be host:port/,
      ],
      [
        'a missing certificate',
        { TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'gone.pem') },
        /tls\.server_ca_cert_path: cannot read .*gone\.pem \(ENOENT\)/,
      ],
      ['a FIFO as the profile file', { TEMPORAL_CONFIG_FILE: fifo }, /fifo: .*fifo is not a regular file/],
      [
        'a FIFO as a client key',
        { TEMPORAL_TLS_CLIENT_CERT_PATH: crt, TEMPORAL_TLS_CLIENT_KEY_PATH: fifo },
        /tls\.client_key_path: .*fifo is not a regular file/,
      ],
      [
        'a certificate of 2 MiB',
        { TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('huge.pem', 'x'.repeat(2 << 20)) },
        /tls\.server_ca_cert_path: .*huge\.pem has 2097152 bytes \(1 to 1048576 expected\)/,
      ],
      [
        "a profile's codec section, which would leave payloads unencoded",
        {
          TEMPORAL_CONFIG_FILE: file('codec.toml', '[profile.default.codec]\nendpoint = "https://codec.internal"\n'),
        },
        /codec\.toml: codec: payload codecs are not supported \(remove \[profile\.default\.codec\]/,
      ],
      [
        'a codec from the environment',
        { TEMPORAL_CODEC_ENDPOINT: 'https://codec.internal' },
        /the environment: codec: payload codecs are not supported/,
      ],
      [
        'TLS without host verification',
        { TEMPORAL_TLS: 'true', TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' },
        /TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: not supported/,
      ],
      [
        'a certificate without its key',
        { TEMPORAL_TLS_CLIENT_CERT_PATH: crt },
        /needs both a client certificate and its key/,
      ],
    ])('%s', (_what, env, message) => {
      expect(() => temporalConfig(env)).toThrow(message);
    });
  });

  it('links a workflow in the UI with its id escaped', () => {
    expect(workflowUiLink(temporalConfig({}), 'migrate-vm-105')).toBe(
      'http://127.0.0.1:8233/namespaces/default/workflows/migrate-vm-105',
    );
  });
});

describe('temporal-dev.sh', () => {
  it('registers exactly the search attributes the workflows use', () => {
    const script = readFileSync(resolve(__dirname, '../temporal-dev.sh'), 'utf8');
    const declared = /^search_attributes=\(([^)]*)\)/m.exec(script)?.[1].trim().split(/\s+/);
    expect(declared).toEqual(devServerSearchAttributeFlags());
  });
});
