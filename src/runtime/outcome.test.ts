import { describe, expect, it } from 'vitest';
import { RunCancelledError } from '../core/cancellation.js';
import { ChildRunError } from '../core/children.js';
import { JobdeckError } from '../core/errors.js';
import { classifyAttemptEnd, type AttemptEnd } from './outcome.js';

const now = new Date(Date.UTC(2030, 0, 1));
const base: AttemptEnd = {
  abort: null,
  cancelRequested: false,
  settled: { ok: true, value: 1 },
  items: [],
  attempt: 1,
  maxAttempts: 3,
  backoff: { base: 1000, jitter: 0 },
  now,
};

describe('classifyAttemptEnd', () => {
  it('completes, and ends partial when items are mixed', () => {
    expect(classifyAttemptEnd(base)).toEqual({ status: 'completed', result: 1 });
    const items = [
      { key: 'a', status: 'succeeded' as const },
      { key: 'b', status: 'failed' as const },
    ];
    expect(classifyAttemptEnd({ ...base, items })).toEqual({ status: 'partial', result: 1 });
  });

  it('fails a result no store can keep at once, saying where in it', () => {
    const notStorable = (value: unknown) =>
      classifyAttemptEnd({ ...base, settled: { ok: true, value } });
    expect(notStorable({ rows: [{ name: 'a\u0000' }] })).toEqual({
      status: 'failed',
      error: {
        code: 'RESULT_NOT_STORABLE',
        message: 'result.rows[0].name must not contain U+0000 or unpaired surrogates',
      },
    });
    expect(notStorable({ text: 'x\uD800' })).toMatchObject({
      error: { code: 'RESULT_NOT_STORABLE', message: expect.stringContaining('result.text') },
    });
    expect(notStorable(10n)).toMatchObject({ error: { code: 'RESULT_NOT_STORABLE' } });
    // A paired surrogate (an emoji) and an escaped backslash are fine.
    expect(notStorable({ text: '\u{1F600} \\u0000' })).toMatchObject({ status: 'completed' });
  });

  it('retries a thrown error while attempts are left, then fails', () => {
    const settled = { ok: false as const, error: new Error('boom') };
    expect(classifyAttemptEnd({ ...base, settled })).toEqual({
      status: 'scheduled',
      runAt: new Date(now.getTime() + 1000),
      error: { code: 'HANDLER_ERROR', message: 'boom' },
    });
    expect(classifyAttemptEnd({ ...base, settled, attempt: 3 })).toMatchObject({
      status: 'failed',
    });
  });

  it('classifies from the abort reason, not from what the handler threw', () => {
    const force = new RunCancelledError({ kind: 'cancel', mode: 'force' });
    const settled = { ok: false as const, error: new Error('socket closed') };
    expect(
      classifyAttemptEnd({ ...base, abort: force, cancelRequested: true, settled }),
    ).toBeNull();
    const timeout = new RunCancelledError({ kind: 'timeout', mode: 'force' });
    expect(classifyAttemptEnd({ ...base, abort: timeout, settled, attempt: 3 })).toMatchObject({
      status: 'failed',
      error: { code: 'TIMEOUT' },
    });
    const shutdown = new RunCancelledError({ kind: 'shutdown', mode: 'force' });
    expect(classifyAttemptEnd({ ...base, abort: shutdown, settled })).toEqual({
      status: 'pending',
    });
    expect(classifyAttemptEnd({ ...base, abort: { kind: 'lease-lost' }, settled })).toBeNull();
  });

  it('never retries after a cancel was delivered', () => {
    const checkpoint = new RunCancelledError({ kind: 'cancel', mode: 'graceful' });
    expect(
      classifyAttemptEnd({
        ...base,
        cancelRequested: true,
        settled: { ok: false, error: checkpoint },
      }),
    ).toEqual({ status: 'cancelled' });
    expect(
      classifyAttemptEnd({
        ...base,
        cancelRequested: true,
        settled: { ok: false, error: new Error('x') },
      }),
    ).toMatchObject({ status: 'failed' });
  });

  it('fails invalid input, and a step result no store keeps, without a retry', () => {
    for (const code of ['INVALID_INPUT', 'RESULT_NOT_STORABLE'] as const) {
      const error = new JobdeckError(code, 'bad');
      expect(classifyAttemptEnd({ ...base, settled: { ok: false, error } })).toMatchObject({
        status: 'failed',
        error: { code },
      });
    }
  });

  describe('a handler that waits for its children', () => {
    const wait = new RunCancelledError({ kind: 'wait', mode: 'graceful', reason: 'waiting' });
    const suspended = { ...base, settled: { ok: false as const, error: wait } };

    it('suspends the run until the children it recorded end, with no try used', () => {
      expect(classifyAttemptEnd({ ...suspended, awaiting: ['c1', 'c2'] })).toEqual({
        status: 'waiting',
        children: ['c1', 'c2'],
      });
      // Also on its last try: waiting is not a failure.
      expect(
        classifyAttemptEnd({ ...suspended, awaiting: ['c1'], attempt: 3, maxAttempts: 3 }),
      ).toEqual({ status: 'waiting', children: ['c1'] });
      // The same error made in an isolate (by shape) counts as well.
      const crossed = Object.assign(new Error('Run wait: waiting'), {
        name: 'RunCancelledError',
        kind: 'wait',
        code: 'WAITING',
      });
      expect(
        classifyAttemptEnd({ ...base, settled: { ok: false, error: crossed }, awaiting: ['c1'] }),
      ).toMatchObject({ status: 'waiting' });
    });

    it('a cancel delivered to the attempt wins over the wait', () => {
      expect(classifyAttemptEnd({ ...suspended, awaiting: ['c1'], cancelRequested: true })).toEqual(
        { status: 'cancelled' },
      );
      const force = new RunCancelledError({ kind: 'cancel', mode: 'force' });
      expect(
        classifyAttemptEnd({ ...suspended, awaiting: ['c1'], abort: force, cancelRequested: true }),
      ).toBeNull();
    });

    it('without recorded children a wait error is the handler error it looks like', () => {
      expect(classifyAttemptEnd(suspended)).toMatchObject({
        status: 'scheduled',
        error: { code: 'WAITING' },
      });
      expect(classifyAttemptEnd({ ...suspended, awaiting: [] })).toMatchObject({
        status: 'scheduled',
      });
    });

    it('a handler that settles another way ends as it settled, whatever it waited for', () => {
      expect(classifyAttemptEnd({ ...base, awaiting: ['c1'] })).toEqual({
        status: 'completed',
        result: 1,
      });
      const other = new RunCancelledError({ kind: 'pause', mode: 'graceful' });
      expect(
        classifyAttemptEnd({ ...base, settled: { ok: false, error: other }, awaiting: ['c1'] }),
      ).toMatchObject({ status: 'scheduled' });
    });

    it('fails without a retry when a child did not complete, caught or not by shape', () => {
      const error = new ChildRunError({
        id: 'c1',
        job: 'send',
        status: 'failed',
        error: { code: 'HANDLER_ERROR', message: 'smtp down' },
        result: null,
      });
      expect(classifyAttemptEnd({ ...base, settled: { ok: false, error } })).toEqual({
        status: 'failed',
        error: {
          code: 'CHILD_RUN_FAILED',
          message: 'Child run c1 (send) ended failed: smtp down.',
        },
      });
      const crossed = Object.assign(new Error(error.message), { code: 'CHILD_RUN_FAILED' });
      expect(classifyAttemptEnd({ ...base, settled: { ok: false, error: crossed } })).toMatchObject(
        { status: 'failed', error: { code: 'CHILD_RUN_FAILED' } },
      );
    });
  });
});
