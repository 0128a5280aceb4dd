/**
 * Guessing the CSV dialect from the input's first line when the user does not say: today the
 * delimiter, the candidate that occurs most often outside quotes.
 *
 * @example
 * ```ts
 * sniffDelimiter("a;b;c\n1;2;3\n"); // ";"
 * ```
 *
 * @module
 */

/** Delimiters the sniffer considers, in order of preference on a tie. */
export const DELIMITERS = [",", ";", "\t", "|"] as const;

/**
 * Picks the candidate delimiter that occurs most often (outside quotes) in the first line; `,`
 * when none occurs.
 *
 * @example
 * ```ts
 * sniffDelimiter('"a;b",c\n'); // ","
 * ```
 */
export function sniffDelimiter(text: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best: string = ",";
  let bestCount = 0;
  for (const d of DELIMITERS) {
    if (counts.get(d)! > bestCount) {
      best = d;
      bestCount = counts.get(d)!;
    }
  }
  return best;
}
