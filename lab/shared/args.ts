/**
 * Walks a lab tool's command line: calls `take(arg, value)` for each argument in turn; `value()` consumes the next
 * argument as the option's value, and throws "<arg> needs a value" when there is none.
 */
export function eachArg(argv: string[], take: (arg: string, value: () => string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    take(a, () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    });
  }
}
