// Child runs: a parent fans out, waits without holding a worker, then gathers. Run: node --import tsx examples/child-runs.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineJob, Jobdeck, SqliteStore } from 'jobdeck';
import { z } from 'zod';

export const thumbnail = defineJob({
  name: 'example.thumbnail',
  input: z.object({ image: z.string() }),
  async run(ctx, { image }) {
    ctx.log.info(`resizing ${image}`);
    return { image, bytes: image.length * 1000 };
  },
});

export const album = defineJob({
  name: 'example.album',
  input: z.object({ images: z.array(z.string()) }),
  async run(ctx, { images }) {
    // One child per image, keyed by the image: a replay after the wait starts none again.
    const children = await Promise.all(
      images.map((image) => ctx.spawn('example.thumbnail', { image }, { key: image })),
    );
    // The parent waits here holding no worker slot; it runs again once every child has ended.
    const thumbnails = (await ctx.waitForAll(children)) as { bytes: number }[];
    return {
      thumbnails: thumbnails.length,
      bytes: thumbnails.reduce((sum, t) => sum + t.bytes, 0),
    };
  },
});

const dir = mkdtempSync(join(tmpdir(), 'jobdeck-children-'));
const deck = new Jobdeck({
  store: new SqliteStore({ path: join(dir, 'jobdeck.db') }),
  jobs: [album, thumbnail],
  // One slot: the children run in it while their parent waits.
  worker: { concurrency: 1 },
});
await deck.start();
try {
  const images = ['cat.jpg', 'dog.jpg', 'owl.jpg'];
  const { run } = await deck.runs.create({ job: 'example.album', input: { images } });
  const done = await deck.runs.wait(run.id, { timeoutMs: 30_000 });
  console.log(`${done.status}: ${JSON.stringify(done.result)}`);
  const { runs: children } = await deck.runs.list({ parentId: run.id });
  const ended = children.map(
    (child) => `${(child.input as { image: string }).image} ${child.status}`,
  );
  console.log(`children (trigger ${children[0]?.trigger}): ${ended.sort().join(', ')}`);
} finally {
  await deck.stop();
  rmSync(dir, { recursive: true, force: true });
}
