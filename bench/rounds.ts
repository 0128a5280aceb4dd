/**
 * How every comparison is measured on a shared, noisy machine: each case once per round, the
 * order rotating every round so that drift hits every case alike; before each run the database is
 * put in the same state and the bench waits for a quiet second; a run during which other
 * programs took more than 0.4 cores is measured once more, and noted if it stays contended.
 *
 * @module
 */
import { type CpuSplit, foreignCores, waitForQuiet } from "./proc.ts";

/**
 * Runs every id `reps` times, the order rotating `step` places a round, and returns each id's
 * runs, tagged with their round. `before` each run (and its retry) puts the same starting state
 * (e.g. `CHECKPOINT`), `after` each, even a failed one, undoes what it changed; failures and
 * contended runs are noted in `notes`.
 */
export async function measureRounds<R extends { cpu?: CpuSplit }>(o: {
  ids: readonly string[];
  reps: number;
  step: number;
  before(id: string): Promise<void>;
  run(id: string, rep: number): Promise<R>;
  after?(id: string): Promise<void>;
  describe(r: R): string;
  log(msg: string): void;
  notes: string[];
}): Promise<Map<string, (R & { rep: number })[]>> {
  const out = new Map(o.ids.map((id) => [id, [] as (R & { rep: number })[]]));
  const contended: string[] = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    for (let i = 0; i < o.ids.length; i++) {
      const id = o.ids[(i + (rep - 1) * o.step) % o.ids.length];
      for (let attempt = 1; attempt <= 2; attempt++) {
        await o.before(id);
        const quiet = await waitForQuiet();
        if (quiet.waitedMs > 2500) {
          const busy = quiet.busyCores.toFixed(2);
          o.log(
            `  (waited ${
              (quiet.waitedMs / 1000).toFixed(0)
            } s for a quiet machine: ${busy} cores busy)`,
          );
        }
        let r: R;
        try {
          r = await o.run(id, rep);
        } catch (err) {
          const msg = (err as Error).message.slice(0, 400);
          o.notes.push(`${id} round ${rep} failed: ${msg}`);
          o.log(`  round ${rep} ${id} failed: ${msg}`);
          break;
        } finally {
          await o.after?.(id);
        }
        const foreign = foreignCores(r.cpu);
        const [busy, again] = [foreign > 0.4, foreign > 0.4 && attempt === 1];
        const other = `  (other programs took ${foreign.toFixed(2)} cores${
          again ? "; again" : ""
        })`;
        o.log(`  round ${rep} ${id.padEnd(22)} ${o.describe(r)}${busy ? other : ""}`);
        if (again) continue;
        if (busy) contended.push(`${id} round ${rep} (${foreign.toFixed(2)} cores)`);
        out.get(id)!.push({ ...r, rep });
        break;
      }
    }
  }
  if (contended.length) {
    o.notes.push(
      "runs during which other programs on this shared machine took more than 0.4 cores, even " +
        `after one retry: ${contended.join(", ")}`,
    );
  }
  return out;
}
