/**
 * Real public CSV files, as they ship in npm and Debian packages (tests/fixtures/real/NOTICE.md
 * names each source, version and licence), loaded with no flags (the schema inferred) on the test
 * database: PGlite, or PostgreSQL with DATABASE_URL. Every expected figure was computed when the
 * file was added, independently of the loader, with Python's csv module, e.g.
 *
 * ```python
 * rows = list(csv.reader(open("seattle-weather.csv", newline="")))[1:]
 * len(rows); sum(Decimal(r[1]) for r in rows)   # 1461, Decimal('4426.0')
 * ```
 *
 * and dates with datetime.strptime (stocks.csv: "%b %d %Y").
 */
import assert from "node:assert/strict";
import { ingest } from "../src/etl/ingest.ts";
import { openTestDb, type TestDb, uniqueName } from "./db_helpers.ts";
import { tempDir } from "./etl_helpers.ts";

const REAL = new URL("./fixtures/real/", import.meta.url).pathname;

/** Loads a real file with no flags into a new table; returns the table and the summary. */
async function load(tdb: TestDb, dir: string, name: string) {
  const table = uniqueName(name.replace(/\W/g, "_").toLowerCase());
  const r = await ingest({
    db: tdb.db,
    file: `${REAL}${/\.\w+$/.test(name) ? name : `${name}.csv`}`,
    table,
    rejectsPath: `${dir}/${table}.rejects.csv`,
  });
  assert.equal(r.exitCode, 0, r.error?.message ?? "");
  return { table, summary: r.summary! };
}

Deno.test("real files load with no flags, matching counts and sums computed independently", async (t) => {
  const tdb = await openTestDb();
  const dir = await tempDir();
  const one = async <T>(sql: string) => (await tdb.db.query<T & Record<string, unknown>>(sql))[0];
  try {
    await t.step("vega-datasets seattle-weather.csv: ISO dates and decimals", async () => {
      const { table, summary } = await load(tdb, dir.path, "seattle-weather");
      assert.equal(summary.rows_loaded, 1461); // len(rows)
      assert.equal(summary.rows_rejected, 0);
      assert.deepEqual(
        await one(
          `SELECT sum(precipitation)::text AS p, sum(temp_max)::text AS hi,
                  sum(temp_min)::text AS lo, sum(wind)::text AS w,
                  min(date)::text AS first, max(date)::text AS last,
                  count(*) FILTER (WHERE weather = 'sun')::int AS sun
           FROM "${table}"`,
        ),
        // sum(Decimal(r[i])) for precipitation, temp_max, temp_min, wind; min/max of r[0];
        // sum(r[5] == "sun")
        {
          p: "4426.0",
          hi: "24017.5",
          lo: "12031.0",
          w: "4735.3",
          first: "2012-01-01",
          last: "2015-12-31",
          sun: 640,
        },
      );
    });

    await t.step(
      "vega-datasets airports.csv: quoted commas, ids with leading zeros, NA",
      async () => {
        const { table, summary } = await load(tdb, dir.path, "airports");
        assert.equal(summary.rows_loaded, 3376);
        assert.deepEqual(
          await one(
            `SELECT sum(latitude)::text AS lat, sum(longitude)::text AS lon,
                  count(DISTINCT state)::int AS states, count(*) FILTER (WHERE state IS NULL)::int AS na,
                  count(*) FILTER (WHERE iata LIKE '0%')::int AS zero_ids,
                  count(*) FILTER (WHERE name LIKE '%,%')::int AS commas,
                  max(name) FILTER (WHERE iata = '53A') AS savage
           FROM "${table}"`,
          ),
          // sum(Decimal(r[5])), sum(Decimal(r[6])); len({r[3]}) is 57 with "NA", which loads as
          // NULL (a null token); sum(r[3] == "NA"); sum(r[0].startswith("0")); sum("," in r[1])
          {
            lat: "135163.30375977",
            lon: "-332945.18780815",
            states: 56,
            na: 12,
            zero_ids: 91,
            commas: 7,
            savage: "Dr. C.P. Savage, Sr.",
          },
        );
      },
    );

    await t.step(
      "vega-datasets github.csv: YYYY/MM/DD HH24:MI:SS inferred as a timestamp",
      async () => {
        const { table, summary } = await load(tdb, dir.path, "github");
        assert.equal(summary.rows_loaded, 955);
        assert.deepEqual(
          await one(
            `SELECT sum(count)::int AS commits, to_char(min(time), 'YYYY-MM-DD HH24:MI:SS') AS first,
                  to_char(max(time), 'YYYY-MM-DD HH24:MI:SS') AS last,
                  count(*) FILTER (WHERE time >= '2015-03-01' AND time < '2015-04-01')::int AS march,
                  pg_typeof(min(time))::text AS type
           FROM "${table}"`,
          ),
          // sum(int(r[1])); min/max of r[0]; sum(r[0].startswith("2015/03"))
          {
            commits: 2479,
            first: "2015-01-01 01:00:00",
            last: "2015-05-30 11:00:00",
            march: 199,
            type: "timestamp without time zone",
          },
        );
      },
    );

    await t.step("vega-datasets stocks.csv: 'Jan 1 2000' inferred as Mon DD YYYY", async () => {
      const { table, summary } = await load(tdb, dir.path, "stocks");
      assert.equal(summary.rows_loaded, 560);
      assert.deepEqual(
        await one(
          `SELECT sum(price)::text AS total, min(date)::text AS first, max(date)::text AS last,
                  count(*) FILTER (WHERE extract(year FROM date) = 2008)::int AS y2008,
                  count(*) FILTER (WHERE symbol = 'GOOG')::int AS goog
           FROM "${table}"`,
        ),
        // sum(Decimal(r[2])); strptime(r[1], "%b %d %Y") min/max and year 2008; r[0] == "GOOG"
        { total: "56411.20", first: "2000-01-01", last: "2010-03-01", y2008: 60, goog: 68 },
      );
    });

    await t.step(
      "distro-info-data debian.csv: rows shorter than the header are rejected",
      async () => {
        // Old releases leave their trailing columns out (6 fields under an 8-field header), so 15 of
        // 22 records have the wrong number of fields: rejected, as the contract says, with a
        // warning since that is more than half of them.
        const { table, summary } = await load(tdb, dir.path, "distro-info-debian");
        assert.equal(summary.rows_read, 22); // len(rows)
        assert.equal(summary.rows_loaded, 7); // sum(len(r) == 8)
        assert.deepEqual(summary.rejected_by_reason, { "wrong number of fields": 15 });
        assert.match(summary.warnings.join("\n"), /^15 of the 22 records read were rejected: /);
        assert.deepEqual(
          await one(
            `SELECT sum(version)::int AS versions, min(release)::text AS first,
                  max(eol_elts)::text AS last
           FROM "${table}"`,
          ),
          // over the rows with 8 fields: sum(int(r[0])), min(r[4]), max(r[7])
          { versions: 70, first: "2013-05-04", last: "2035-06-30" },
        );
      },
    );

    await t.step("matplotlib Stocks.csv: a '# Data source' line above the header", async () => {
      // The file of issue 9: it loaded none of its 524 rows when the comment was taken for the
      // header.
      const { table, summary } = await load(tdb, dir.path, "matplotlib-Stocks");
      assert.equal(summary.preamble_lines, 1);
      assert.equal(summary.rows_loaded, 524); // len(rows[2:])
      assert.equal(summary.rows_rejected, 0);
      assert.deepEqual(
        await one(
          `SELECT sum(ibm)::text AS ibm, count(amzn)::int AS amzn, count(googl)::int AS googl,
                  sum(gspc)::text AS gspc, min(date)::text AS first, max(date)::text AS last
           FROM "${table}"`,
        ),
        // rows = rows[2:] (below the comment and the header): sum(Decimal(r[1])), sum(r[5] != ""),
        // sum(r[7] != ""), sum(Decimal(r[9])), min/max of r[0]
        {
          ibm: "26622.8245081901550735",
          amzn: 302,
          googl: 215,
          gspc: "576707.41970825195320",
          first: "1990-01-01",
          last: "2022-06-28",
        },
      );
    });

    await t.step(
      "gnuplot immigration.dat: two # lines, tab-separated, '-' for missing, a trailing tab",
      async () => {
        const { table, summary } = await load(tdb, dir.path, "gnuplot-immigration.dat");
        assert.equal(summary.preamble_lines, 2);
        assert.equal(summary.rows_loaded, 8); // len(rows[3:]) with delimiter="\t"
        assert.deepEqual(
          await one(
            `SELECT sum(austria)::int AS austria, sum(germany)::int AS germany,
                  sum(total)::int AS total, count(*) FILTER (WHERE czechoslovakia IS NULL)::int AS cz,
                  max(region) AS last, count(column_25)::int AS trailing
           FROM "${table}"`,
          ),
          // sum(int(r[1])), sum(int(r[7])), sum(int(r[23])), sum(r[4] == "-"), max(r[0]); the
          // header's trailing tab makes a 25th field, empty in every row
          {
            austria: 1504957,
            germany: 2441994,
            total: 20999521,
            cz: 2,
            last: "1961-1970",
            trailing: 0,
          },
        );
      },
    );
  } finally {
    await dir.remove();
    await tdb.close();
  }
});
