/**
 * The totals of searched lists (`GET /tasks?q=`), remembered in the process so that a search is
 * counted by scanning once per change of the user's tasks, not on every page.
 *
 * Each total is kept with the version of the user's list it was counted at: the sum of
 * `task_totals.changes` (sql/032), which every committed insert, delete and change of a task's
 * status, title, description or owner raises, in the same transaction. A page's statement reads the
 * version in its own snapshot; when it differs from the one remembered, the page is read again with
 * a count (see `task_list.ts`), so a total is always the count at its page's snapshot, as exact as
 * a count: whichever process, worker or replica wrote last.
 *
 * @module
 */

/** A total and the version of the user's list it was counted at. */
export interface SearchCount {
  /** The sum of the user's `task_totals.changes`, as text. */
  version: string;
  count: number;
}

/** Entries per database handle; the least recently used goes first. */
const MAX_ENTRIES = 5_000;

/** The remembered totals of one database's searches, by user and filter. */
export class SearchCounts {
  readonly #entries = new Map<string, SearchCount>();

  /** The key of a user's search with these statuses (undefined: all). */
  static key(userId: number, statuses: readonly string[] | undefined, search: string): string {
    return JSON.stringify([userId, statuses ?? null, search]);
  }

  /** The remembered total, if any; it becomes the most recently used. */
  get(key: string): SearchCount | undefined {
    const entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Remembers a total counted at `version`. */
  set(key: string, entry: SearchCount): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > MAX_ENTRIES) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  /** How many totals are remembered. */
  get size(): number {
    return this.#entries.size;
  }
}

const byDatabase = new WeakMap<object, SearchCounts>();

/**
 * The remembered totals of the database behind `db` (a pool or an embedded database; user ids of
 * two databases never share an entry).
 *
 * @example
 * ```ts
 * const counts = searchCountsOf(db);
 * ```
 */
export function searchCountsOf(db: object): SearchCounts {
  let counts = byDatabase.get(db);
  if (!counts) byDatabase.set(db, counts = new SearchCounts());
  return counts;
}
