import { z } from 'zod';

/**
 * Operator names (`by`, `startedBy`, approvers) compared as identities, not as strings: one canonical form for each,
 * so that `ALICE`, `Alice`, ` alice ` and the full-width `ａｌｉｃｅ` are all alice, and four eyes and approver lists
 * hold. A leaf module: the workflows, the messages and the CLI take it; it imports nothing of the project.
 */

/** Letters of the scripts a name may be written in; a letter of none of them is refused. */
const SCRIPTS = ['Latin', 'Cyrillic', 'Greek', 'Armenian', 'Georgian', 'Hebrew', 'Arabic', 'Devanagari', 'Thai'];
/** CJK writing mixes scripts by design: each of these counts as one script with Han (UTS #39's augmented sets). */
const CJK: Record<string, string[]> = {
  Han: ['Jpan', 'Kore', 'Hanb'],
  Hiragana: ['Jpan'],
  Katakana: ['Jpan'],
  Hangul: ['Kore'],
  Bopomofo: ['Hanb'],
};
const scriptTests = [...SCRIPTS, ...Object.keys(CJK)].map(
  (script) => [script, new RegExp(`^\\p{Script_Extensions=${script}}$`, 'u')] as const,
);

/** The scripts one letter may belong to (Script_Extensions, CJK augmented), empty when none is supported. */
function scriptsOf(letter: string): Set<string> {
  const scripts = new Set<string>();
  for (const [script, test] of scriptTests)
    if (test.test(letter)) for (const s of [script, ...(CJK[script] ?? [])]) scripts.add(s);
  return scripts;
}

/** Letters, marks, ASCII digits and ' ._@+-' after NFKC; anything else (controls, zero-width joiners…) is refused. */
const ALLOWED = /^[\p{L}\p{M}0-9 ._@+-]+$/u;

/**
 * The canonical form of an operator name: NFKC, case-folded (upper then lower, so that ß is ss and ς is σ), NFKC
 * again, trimmed, inner runs of spaces made one; or why it is refused: empty, over 64 characters, a character
 * outside letters, marks, digits and ' ._@+-', or letters of more than one script (a Cyrillic `а` in a Latin
 * `аlice` makes a look-alike of alice).
 */
export function canonicalName(name: string): { name: string } | { refused: string } {
  const folded = name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC').trim().replace(/ +/g, ' ');
  if (folded.length === 0) return { refused: 'an empty name' };
  if ([...folded].length > 64) return { refused: 'a name of at most 64 characters' };
  if (!ALLOWED.test(folded)) return { refused: "a name of letters, digits, ' ', '.', '_', '@', '+' or '-'" };
  let common: Set<string> | undefined;
  for (const letter of folded.match(/\p{L}/gu) ?? []) {
    const scripts = scriptsOf(letter);
    if (scripts.size === 0) return { refused: `a name in a script this check does not know ('${letter}')` };
    common = common ? new Set([...common].filter((s) => scripts.has(s))) : scripts;
    if (common.size === 0) return { refused: 'a name in one script: letters of several scripts make look-alikes' };
  }
  return { name: folded };
}

/** Whether two operator names are one identity; a name that is refused is nobody's. */
export function sameOperator(a: string, b: string): boolean {
  const [x, y] = [canonicalName(a), canonicalName(b)];
  return 'name' in x && 'name' in y && x.name === y.name;
}

/** An operator name at a boundary: refused as canonicalName refuses it, and passed on in its canonical form only. */
export const operatorName = z
  .string()
  .max(256)
  .transform((name, ctx) => {
    const canonical = canonicalName(name);
    if ('name' in canonical) return canonical.name;
    ctx.addIssue({ code: 'custom', message: canonical.refused });
    return z.NEVER;
  });
