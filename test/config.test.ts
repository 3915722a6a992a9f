import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { temporalConfig, workflowUiLink } from '../src/config';
import { devServerSearchAttributeFlags } from '../src/search-attributes';

describe('temporalConfig', () => {
  it('defaults to the local dev server and the project task queue', () => {
    expect(temporalConfig({})).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: 'openclaw-migrate',
      uiUrl: 'http://127.0.0.1:8233',
    });
  });

  it('takes overrides from the environment', () => {
    const config = temporalConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7300', TEMPORAL_TASK_QUEUE: 'q2' });
    expect(config.address).toBe('temporal.internal:7300');
    expect(config.taskQueue).toBe('q2');
  });

  it('names the variable that is wrong', () => {
    expect(() => temporalConfig({ TEMPORAL_ADDRESS: 'no-port-here' })).toThrow(/TEMPORAL_ADDRESS: must be host:port/);
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
