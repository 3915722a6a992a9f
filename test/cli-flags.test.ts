import { flagsUsage, parseCommandLine } from '../src/cli/flags';
import { runCli, usage } from '../src/cli/main';
import { InputRefused } from '../src/schema';

/** The CLI's command line without a server: flags from their one table, refusals, exit codes answered. */
describe('the CLI command line', () => {
  it('reads every flag of the table into typed options, with defaults', () => {
    const { options, positionals } = parseCommandLine([
      'migrate',
      'fleet',
      '--concurrency',
      '3',
      '--canary=0',
      '--failure-budget',
      '2',
      '--allow-concurrency-above-sop',
      '--remove-images',
      '--by',
      'dana',
      '-h',
    ]);
    expect(positionals).toEqual(['migrate', 'fleet']);
    expect(options).toMatchObject({
      fleet: 'default',
      concurrency: 3,
      canary: 0,
      failureBudget: 2,
      allowConcurrencyAboveSop: true,
      removeImages: true,
      by: 'dana',
      help: true,
    });
    expect(options.inventory).toBeUndefined();
    expect(options.prestage).toBeUndefined();
  });

  it('lists each flag once in the usage, as the parser spells it', () => {
    const lines = flagsUsage();
    const names = lines.flatMap((line) => /^ {2}(?:-\w, )?--([\w-]+)/.exec(line)?.[1] ?? []);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('failure-budget');
    for (const name of names) expect(() => parseCommandLine([`--${name}`, 'x'])).not.toThrow(/Unknown option/);
    expect(usage()).toContain(
      "                            only for the final copy and the start (default: the SOP order, or the inventory's)",
    );
  });

  it.each([
    [['status', '--inventroy', 'x'], /did you mean '--inventory'\?/],
    [['migrate', 'fleet', '--concurrency', '1e3'], /--concurrency must be a whole number of at least 1 \(got '1e3'\)/],
    [['plan', '--canary', 'x'], /--canary must be a whole number of at least 0/],
    [['status', '--fleet', 'a/b'], /--fleet must be a name of letters/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(InputRefused);
    expect(() => parseCommandLine(argv)).toThrow(message);
  });

  it('answers its exit code, refuses before any contact, and leaves process.exitCode alone', async () => {
    const logged = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(runCli(['--help'])).resolves.toBe(0);
      expect(logged).toHaveBeenCalledWith(usage());
      await expect(runCli(['frobnicate'])).resolves.toBe(2);
      await expect(runCli(['constructor'])).resolves.toBe(2);
      expect(errors.mock.calls[0][0]).toMatch(/^unknown command 'frobnicate'\n\nusage: /);
      // no server listens at this address: a refusal never gets to try it
      process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
      await expect(runCli(['migrate', 'vm', 'abc'])).rejects.toThrow(/a vmid is needed, e\.g\. 105 \(got 'abc'\)/);
      await expect(runCli(['migrate', 'box'])).rejects.toThrow(InputRefused);
      await expect(runCli(['gate', 'ajar'])).rejects.toThrow(InputRefused);
      await expect(runCli(['approve', '105', '--by', 'a', '--reason', 'ok\n## forged'])).rejects.toThrow(
        /no control characters/,
      );
      expect(process.exitCode).toBeUndefined();
    } finally {
      delete process.env.TEMPORAL_ADDRESS;
      logged.mockRestore();
      errors.mockRestore();
    }
  });
});
