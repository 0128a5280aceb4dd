/**
 * The HTTP server, as `cli.ts serve` (kept so that `deno run -A main.ts` still works; the one
 * entry point is `cli.ts`).
 *
 * @module
 */
import { main } from "./cli.ts";

if (import.meta.main) Deno.exit(await main(["serve", ...Deno.args]));
