/**
 * Crash soak against PostgreSQL (not part of `npm test`): worker processes execute ledger runs on a
 * schema of their own while one of them is SIGKILLed at a random offset into a run, again and
 * again, and a fresh worker takes its place. At the end it prints how many runs were lost, whether
 * any two attempts of a run overlapped, and how long killed runs waited before being taken again
 * (lease + rescuer interval + slack is the bound); it exits 1 if anything was wrong.
 *
 *   npx tsx scripts/soak-crash.ts [--kills 200] [--workers 4] [--lease-ms 1000] \
 *     [--heartbeat-ms 200] [--maintenance-ms 200] [--slack-ms 800] [--db postgres://…]
 *
 * `--db` defaults to JOBDECK_TEST_PG, else postgres://postgres@127.0.0.1:5432/test. The schema
 * (jdt_…) and the temporary folder are removed afterwards; the workers are always killed. The
 * loop is test/helpers/crash-soak.ts, which test/crash.postgres.test.ts runs with 20 kills.
 */
import { parseArgs } from 'node:util';
import { crashSoak, describeSoak } from '../test/helpers/crash-soak.js';
import { InstanceSet, dropSchema } from '../test/helpers/pg-instances.js';
import { PG_URL, freshSchema } from '../test/helpers/postgres.js';
import { tempDir } from '../test/helpers/temp.js';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '200' },
    workers: { type: 'string', default: '4' },
    'lease-ms': { type: 'string', default: '1000' },
    'heartbeat-ms': { type: 'string', default: '200' },
    'maintenance-ms': { type: 'string', default: '200' },
    'slack-ms': { type: 'string', default: '800' },
    db: { type: 'string', default: PG_URL },
  },
});

const instances = new InstanceSet();
const schema = freshSchema();
const { dir, cleanup } = tempDir('jobdeck-soak-');
const stop = () => {
  void instances.killAll().finally(() => process.exit(130));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

let failed = true;
try {
  console.log(`crash soak: ${values.kills} kills on schema ${schema} of ${values.db}`);
  const summary = await crashSoak({
    pgUrl: values.db,
    schema,
    dir,
    kills: Number(values.kills),
    workers: Number(values.workers),
    leaseMs: Number(values['lease-ms']),
    heartbeatMs: Number(values['heartbeat-ms']),
    maintenanceMs: Number(values['maintenance-ms']),
    slackMs: Number(values['slack-ms']),
    instances,
    log: (line) => console.log(line),
  });
  console.log(describeSoak(summary));
  for (const run of summary.lost)
    console.log(`  LOST ${run.id}: ${run.status} after ${run.attempt} attempts`);
  for (const overlap of summary.overlaps) console.log(`  OVERLAP ${overlap}`);
  for (const k of summary.late)
    console.log(
      `  LATE ${k.runId}#${k.attempt} (killed on ${k.workerId}): ${k.reclaimMs ?? 'never'} ms`,
    );
  for (const id of summary.wrongResults) console.log(`  WRONG RESULT ${id}`);
  for (const line of summary.loopErrors) console.log(`  LOOP ERROR ${line}`);
  failed =
    summary.lost.length > 0 ||
    summary.overlaps.length > 0 ||
    summary.late.length > 0 ||
    summary.wrongResults.length > 0;
} catch (err) {
  console.error(err);
} finally {
  await instances.killAll();
  await dropSchema(values.db, schema).catch((err: unknown) => console.error(err));
  cleanup();
}
process.exit(failed ? 1 : 0);
