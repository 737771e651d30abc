import { createAdapter } from '../adapters/index.js';
import type { Adapter, SystemName } from '../adapters/types.js';
import { namespace, type WorkloadContext } from '../lib/results.js';

/** A fresh adapter (its own schema/queue/file) for one repeat; `fn` gets it set up and it is dropped after. */
export async function withAdapter<T>(
  ctx: WorkloadContext,
  system: SystemName,
  tag: string,
  fn: (adapter: Adapter, ns: string) => Promise<T>,
): Promise<T> {
  const ns = namespace(ctx, tag);
  const adapter = createAdapter({ system, namespace: ns, dir: ctx.dir });
  await adapter.setup({ fresh: true });
  try {
    const result = await fn(adapter, ns);
    ctx.settings.set(system, { ...ctx.settings.get(system), ...adapter.settings() });
    return result;
  } finally {
    await adapter.teardown({ drop: true }).catch((err: unknown) => {
      ctx.log(`  ${system}: teardown failed: ${(err as Error).message}`);
    });
  }
}

/** Run `fn` `repeats` times, logging each figure. */
export async function repeat(
  ctx: WorkloadContext,
  label: string,
  fn: (index: number) => Promise<number>,
): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < ctx.repeats; i++) {
    let value = Number.NaN;
    try {
      value = await fn(i);
    } catch (err) {
      ctx.log(`  ${label} #${i + 1}: FAILED ${(err as Error).stack ?? String(err)}`);
    }
    values.push(value);
    ctx.log(`  ${label} #${i + 1}: ${Number.isFinite(value) ? value.toFixed(2) : 'n/a'}`);
  }
  return values;
}
