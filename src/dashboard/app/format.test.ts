import { describe, expect, it } from 'vitest';
import { formatWindow } from './format.js';

describe('formatWindow', () => {
  it('names a window in its largest whole unit', () => {
    expect([60_000, 30_000, 7_200_000, 86_400_000, 250, 1500, 90_000].map(formatWindow)).toEqual([
      '1 min',
      '30 s',
      '2 h',
      '1 d',
      '250 ms',
      '1500 ms',
      '90 s',
    ]);
  });
});
