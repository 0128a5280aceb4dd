/**
 * The SQL migrations, compiled into the program: each file in `sql/` is imported as text, so that a
 * `deno compile`d binary carries them and nothing is read from the source tree at run time.
 *
 * Adding a migration: create `sql/NNN_name.sql`, then import it here and list it in
 * {@linkcode MIGRATIONS}. `tests/db_test.ts` fails, naming the file, while the two disagree.
 *
 * @module
 */
import users_tasks from "../../sql/001_users_tasks.sql" with { type: "text" };
import refresh_tokens from "../../sql/002_refresh_tokens.sql" with { type: "text" };
import auth_limits from "../../sql/003_auth_limits.sql" with { type: "text" };
import ingest_loads from "../../sql/010_ingest_loads.sql" with { type: "text" };
import username_key from "../../sql/020_username_key.sql" with { type: "text" };
import logins from "../../sql/021_logins.sql" with { type: "text" };
import task_totals from "../../sql/030_task_totals.sql" with { type: "text" };
import task_versions_and_sorts from "../../sql/031_task_versions_and_sorts.sql" with {
  type: "text",
};
import task_totals_shards from "../../sql/032_task_totals_shards.sql" with { type: "text" };
import task_totals_inline from "../../sql/033_task_totals_inline.sql" with { type: "text" };
import task_status_created from "../../sql/034_task_status_created.sql" with { type: "text" };
import tasks_key_by_user from "../../sql/035_tasks_key_by_user.sql" with { type: "text" };
import ingest_keys_widening from "../../sql/050_ingest_keys_widening.sql" with {
  type: "text",
};
import ingest_unchanged from "../../sql/051_ingest_unchanged.sql" with { type: "text" };

/** One numbered SQL file from `sql/`. */
export interface Migration {
  /** The file's number, e.g. `"001"`; applied in numeric order. */
  version: string;
  /** The rest of the file name, without `.sql`. */
  name: string;
  /** The file's text. */
  sql: string;
}

/** Every migration, in version order. */
export const MIGRATIONS: readonly Migration[] = [
  { version: "001", name: "users_tasks", sql: users_tasks },
  { version: "002", name: "refresh_tokens", sql: refresh_tokens },
  { version: "003", name: "auth_limits", sql: auth_limits },
  { version: "010", name: "ingest_loads", sql: ingest_loads },
  { version: "020", name: "username_key", sql: username_key },
  { version: "021", name: "logins", sql: logins },
  { version: "030", name: "task_totals", sql: task_totals },
  { version: "031", name: "task_versions_and_sorts", sql: task_versions_and_sorts },
  { version: "032", name: "task_totals_shards", sql: task_totals_shards },
  { version: "033", name: "task_totals_inline", sql: task_totals_inline },
  { version: "034", name: "task_status_created", sql: task_status_created },
  { version: "035", name: "tasks_key_by_user", sql: tasks_key_by_user },
  { version: "050", name: "ingest_keys_widening", sql: ingest_keys_widening },
  { version: "051", name: "ingest_unchanged", sql: ingest_unchanged },
];
