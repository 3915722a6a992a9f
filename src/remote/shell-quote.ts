/**
 * Quotes one value for a POSIX shell: the value becomes exactly one word, whatever it holds
 * (quotes, `;`, `$(…)`, backticks, newlines). The only way values enter a remote command line.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A command line of separately quoted words. */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
