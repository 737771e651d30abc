import pg from 'pg';
import { Redis } from 'ioredis';

/** The servers the benchmark uses (the same as the tests'). */
export const PG_URL =
  process.env.JOBDECK_BENCH_PG ??
  process.env.JOBDECK_TEST_PG ??
  'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.JOBDECK_BENCH_REDIS ?? 'redis://127.0.0.1:6379';

export async function postgresUp(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version ?? 'unknown';
  } catch {
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function redisUp(): Promise<string | null> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 3000,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const info = await redis.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}
