import { describe, expect, it } from 'vitest';
import { demoJobs } from './jobs.js';

describe('demo jobs', () => {
  it.each(demoJobs.map((job) => [job.name, job] as const))(
    '%s refuses an input field it does not know (a typo is not dropped for a default)',
    (_name, job) => {
      const typo = job.input.safeParse({ stpes: 3 });
      expect(typo.success).toBe(false);
      expect(typo.error?.issues).toContainEqual(
        expect.objectContaining({ code: 'unrecognized_keys', keys: ['stpes'] }),
      );
    },
  );
});
