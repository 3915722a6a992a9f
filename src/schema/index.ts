import { z } from 'zod';

/**
 * The field rules every boundary shares (inventory, workflow inputs, signals, updates, CLI flags). Pure: workflow
 * code parses with them too, so nothing here may use Node's modules.
 */

/** C0/C1 controls, DEL, line and paragraph separators, and the bidi overrides that reorder what a reader sees. */
// eslint-disable-next-line no-control-regex -- these are the characters it looks for
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** A strict object: an unknown key is refused naming it, and the known key nearest to it. */
export function strictObject<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? issue.keys.map((key) => unknownKey(key, known)).join('; ') : undefined,
  });
}

function unknownKey(key: string, known: string[]): string {
  const nearest = nearestKey(key, known);
  return `unknown key '${printable(key)}'${nearest ? ` (did you mean '${nearest}'?)` : ` (known: ${known.join(', ')})`}`;
}

/**
 * The known key a typo most likely meant: same letters ignoring case, '-' and '_', a small edit away, or the start
 * of it (`hostKey` for `hostKeySha256`).
 */
export function nearestKey(key: string, known: string[]): string | undefined {
  const plain = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const shortened = plain(key).length >= 4 && plain(candidate).startsWith(plain(key));
    const distance = shortened ? 1 : editDistance(plain(key), plain(candidate));
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(best.key.length / 3)) ? best.key : undefined;
}

function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Infinity;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length];
}

/** Text for people (reasons, gate reasons): bounded, one line, no control characters. */
export const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL.test(s), 'no control characters, newlines or bidi overrides');

/** Who decided, started or set the gate: a short printable name (ASCII, so no look-alike passes for another). */
export const personName = z
  .string()
  .max(64)
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9 ._@+-]*[A-Za-z0-9_])?$/,
    "a name of letters, digits, ' ', '.', '_', '@', '+' or '-'",
  );

export const vmid = z.number().int().min(100).max(999_999_999);
export const port = z.number().int().min(1).max(65535);

export const linuxUser = z
  .string()
  .max(32)
  .regex(/^[a-z_][a-z0-9_-]*$/, 'a Linux user name (lower-case letters, digits, _ and -; at most 32)');

const ipv4 = z.ipv4();
const ipv6 = z.ipv6();
export const isIpAddress = (s: string) => ipv4.safeParse(s).success || ipv6.safeParse(s).success;

/** An IP address as the URL parser writes it (IPv6 compressed, lower case): one address, one spelling. */
const canonicalIp = (s: string) => (ipv6.safeParse(s).success ? new URL(`http://[${s}]`).hostname.slice(1, -1) : s);

export const ipAddress = z.string().max(45).refine(isIpAddress, 'an IPv4 or IPv6 address').transform(canonicalIp);

/** A DNS name (RFC 1123 labels, kept in lower case) or an IP literal (canonicalIp). */
export const hostName = z
  .string()
  .min(1)
  .max(253)
  .refine(
    (s) =>
      isIpAddress(s) ||
      /^(?=.*[a-zA-Z-])[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(
        s,
      ),
    'a DNS name or an IP address',
  )
  .transform((s) => (isIpAddress(s) ? canonicalIp(s) : s.toLowerCase()));

/** An absolute path already normalised: no '.' or '..' segments, no '//', no trailing '/', plain characters. */
export const absolutePath = z
  .string()
  .max(1024)
  .regex(/^(\/[A-Za-z0-9._+@-]+)+$/, 'an absolute path of letters, digits and . _ + @ -')
  .refine((s) => !s.split('/').some((segment) => segment === '.' || segment === '..'), 'no . or .. segments');

/** Where the node's ledger may be: a `.tsv` file directly in /root or in /var/lib/openclaw-migrate. */
export const LEDGER_DIRECTORIES = ['/root', '/var/lib/openclaw-migrate'];
export const ledgerPath = absolutePath.refine(
  (s) => {
    const slash = s.lastIndexOf('/');
    return (
      LEDGER_DIRECTORIES.includes(s.slice(0, slash)) && /^[A-Za-z0-9_][A-Za-z0-9._-]*\.tsv$/.test(s.slice(slash + 1))
    );
  },
  `a ledger: a .tsv file directly in ${LEDGER_DIRECTORIES.join(' or ')}`,
);

/** `SHA256:` and 43 base64 characters that decode to 32 bytes, as `ssh-keygen -l -E sha256` prints a key's. */
export const hostKeyFingerprint = z
  .string()
  .max(50)
  .regex(
    // 43 characters are 258 bits: the last one's two low bits must be zero for the key to be 32 bytes
    /^SHA256:[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]$/,
    'a host-key fingerprint as ssh-keygen -l prints it: SHA256:<43 base64 chars> (32 bytes)',
  );

/** Where a URL's parsers disagree (WHATWG's, curl's): spaces, backslashes, controls, anything not printable ASCII. */
const URL_UNSAFE = /[^\x21-\x7e]|\\/;
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * Why a release base URL is refused, or its canonical form: the WHATWG parser's serialisation (`url.href`), which is
 * what the guest's curl is given, so the host it asks is the one checked here. https anywhere, plain http only to
 * this machine (the lab's release server), never credentials; the text must be one on which parsers agree: no
 * character URL_UNSAFE names, `scheme://` written out, no '@' in the authority, the host written as the parser
 * reads it (not `0x7f.1`, `%2e` or Unicode), and no query or fragment (paths are appended to it).
 */
function canonicalBaseUrl(raw: string): { problem: string } | { href: string } {
  if (URL_UNSAFE.test(raw))
    return { problem: 'no spaces, backslashes, control or non-ASCII characters (URL parsers read them differently)' };
  const scheme = /^(https?):\/\//i.exec(raw);
  if (!scheme) return { problem: 'an https URL (http only to 127.0.0.1, localhost or [::1]), written https://host' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: 'an https URL that parses as one' };
  }
  const authority = raw.slice(scheme[0].length).split(/[/?#]/)[0];
  if (authority.includes('@') || url.username || url.password)
    return { problem: "an https URL without credentials: no '@' before the host" };
  const host = authority.replace(/:\d*$/, '').toLowerCase();
  if (host !== url.hostname)
    return { problem: `an https URL whose host is written as parsers read it ('${url.hostname}', not '${host}')` };
  if (url.search || url.hash || /[?#]/.test(raw)) return { problem: 'an https URL without a query or fragment' };
  const loopback = LOOPBACK_HOSTS.includes(url.hostname);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)))
    return { problem: 'an https URL (http only to 127.0.0.1, localhost or [::1]), without credentials' };
  return { href: url.href };
}

/** A release server's base URL, as its canonical form (canonicalBaseUrl): what is checked is what is fetched. */
export const releaseBaseUrl = z
  .string()
  .max(2048)
  .transform((raw, ctx) => {
    const canonical = canonicalBaseUrl(raw);
    if ('href' in canonical) return canonical.href;
    ctx.addIssue({ code: 'custom', message: canonical.problem });
    return z.NEVER;
  });

/** A URL under a base URL that releaseBaseUrl produced: `path` is appended to the base's path, never replaces it. */
export function urlUnder(base: string, path: string): string {
  return new URL(path, base.endsWith('/') ? base : `${base}/`).href;
}

const repoPart = '[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}';
export const githubRepo = z
  .string()
  .regex(new RegExp(`^${repoPart}/${repoPart}$`), 'owner/name (letters, digits, . _ -; no dot segments)');

export const releaseTag = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9_][\w.+-]*$/, 'a release tag such as v2026.02.20-r4')
  .refine((s) => !s.includes('..'), 'no ..');

/**
 * What keeps a line from running as one command line in `bash -c` (install.sh runs it so): a quote or backquote left
 * open (bash refuses it), or a backslash at its end, meant to join a next line that never comes (bash runs it as a
 * word of its own).
 */
export function unfinishedCommandLine(line: string): string | undefined {
  let open: "'" | "$'" | '"' | '`' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (open === "'") {
      if (c === "'") open = undefined;
    } else if (c === '\\') {
      if (i === line.length - 1) return 'a backslash at its end';
      i++;
    } else if (open) {
      if (c === open.slice(-1)) open = undefined;
    } else if (c === "'") open = line[i - 1] === '$' ? "$'" : "'";
    else if (c === '"' || c === '`') open = c;
    else if (c === '#' && (i === 0 || /[\s;&|()]/.test(line[i - 1]))) break;
  }
  return open && `${open.slice(-1)} left open`;
}

/** A shell command line run on the VM: bounded, printable and whole, so a bad one is refused before Docker stops. */
export const shellCommandLine = z
  .string()
  .min(1)
  .max(4096)
  .refine((s) => !CONTROL.test(s), 'one printable line: no NUL, newline or control characters')
  .superRefine((s, ctx) => {
    const unfinished = unfinishedCommandLine(s);
    if (unfinished) ctx.addIssue({ code: 'custom', message: `one command line bash can run as it is: ${unfinished}` });
  });

/** Milliseconds between `min` and `max`. */
export const duration = (min: number, max: number) => z.number().int().min(min).max(max);
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Text cut to at most `max` characters (with a marker) and flattened to one line of printable characters. */
export function oneLine(s: string, max: number): string {
  const flat = s.replace(new RegExp(CONTROL.source, 'gu'), ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 14)}… [cut here]`;
}

/** A problem per bad field, `path: rule`, for every issue of a failed parse. */
export function describeIssues(error: z.ZodError, root: string): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || root}: ${issue.message}`);
}

/** Text from guests or operators made safe to print: control characters shown as escapes, never acted on. */
export function printable(s: string): string {
  return s.replace(new RegExp(CONTROL.source, 'gu'), (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** Input refused before anything started: the CLI exits 2 with it, having contacted no server. */
export class InputRefused extends Error {}
