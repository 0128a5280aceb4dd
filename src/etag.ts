/**
 * Entity tags of tasks (RFC 9110 §8.8.3) and the conditional request headers that carry them.
 * A task's ETag is `"<id>.<version>"`: strong, since the version changes with every change to the
 * task, and never shared by two tasks, so a tag sent to the wrong task never matches.
 *
 * @module
 */
import type { IfVersion } from "./db/tasks.ts";

/**
 * The strong ETag of version `version` of task `id`.
 *
 * @example
 * ```ts
 * taskEtag(7, 2); // "\"7.2\""
 * ```
 */
export function taskEtag(id: number, version: number): string {
  return `"${id}.${version}"`;
}

// An entity-tag: optional W/, then a quoted string of visible characters other than '"'.
const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/;

/** The tags of an `If-Match` or `If-None-Match` value; `"*"` for a lone `*`. */
function parseTags(header: string): "*" | { weak: boolean; opaque: string }[] {
  if (header.trim() === "*") return "*";
  const tags = [];
  for (const part of header.split(",")) {
    const m = ENTITY_TAG.exec(part.trim());
    // Anything that is not an entity-tag cannot match any.
    if (m) tags.push({ weak: m[1] !== undefined, opaque: m[2] });
  }
  return tags;
}

/**
 * The versions of task `id` an `If-Match` header accepts, for the conditional write: `"*"` for
 * any, undefined without the header. Strong comparison: weak tags never match, nor tags of
 * another task, nor anything unparsable, so such a header accepts no version at all (412).
 *
 * @example
 * ```ts
 * ifMatchVersions('"7.2", "7.3"', 7); // [2, 3]
 * ifMatchVersions('W/"7.2"', 7);      // []
 * ```
 */
export function ifMatchVersions(header: string | undefined, id: number): IfVersion {
  if (header === undefined) return undefined;
  const tags = parseTags(header);
  if (tags === "*") return "*";
  const versions: number[] = [];
  for (const { weak, opaque } of tags) {
    const m = /^([1-9]\d{0,9})\.([1-9]\d{0,9})$/.exec(opaque);
    if (!weak && m && Number(m[1]) === id && Number(m[2]) <= 2_147_483_647) {
      versions.push(Number(m[2]));
    }
  }
  return versions;
}

/**
 * Whether an `If-None-Match` header matches the current `etag` (weak comparison, as RFC 9110
 * asks for `If-None-Match`): then a GET answers 304.
 *
 * @example
 * ```ts
 * noneMatchHits('W/"7.2"', '"7.2"'); // true
 * ```
 */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const tags = parseTags(header);
  if (tags === "*") return true;
  const opaque = etag.slice(1, -1);
  return tags.some((t) => t.opaque === opaque);
}
