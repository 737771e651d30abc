/** How big and how long each workload is: the full run, `--quick`, and the smoke test's. */
export interface Sizes {
  enqueueN: number;
  enqueueCapMs: number;
  throughputN: number;
  throughputCapMs: number;
  latencyN: number;
  latencyWarmup: number;
  cancelN: number;
  /** How long a handler holds when its system cannot cancel it, and how long an abort is awaited. */
  cancelUnsupportedHoldMs: number;
  cancelAbortWaitMs: number;
  /** How long the run has been running when its worker is killed. */
  crashMidRunMs: number;
  crashCapMs: number;
  /**
   * How long the peers' background crash trials get to start before Jobdeck's are timed; 0 runs
   * every trial at once.
   */
  crashHeadStartMs: number;
  apiDurationS: number;
  apiWarmupS: number;
  memoryN: number;
  memoryCapMs: number;
  memorySettleMs: number;
  /** Event-stream clients connected at once. */
  sseClients: number;
  /** GET /api/runs requests measured while they stream, one every `sseProbeIntervalMs`. */
  sseProbeRequests: number;
  sseProbeIntervalMs: number;
  /** Runs started per second meanwhile, each `sseRunSteps` steps of progress and a log line. */
  sseRunsPerS: number;
  sseRunSteps: number;
  sseStepMs: number;
  /** Calls of each CLI command per repeat (each a new process). */
  cliCalls: number;
}

export const FULL: Sizes = {
  enqueueN: 10_000,
  enqueueCapMs: 10_000,
  throughputN: 20_000,
  throughputCapMs: 8000,
  latencyN: 300,
  latencyWarmup: 20,
  cancelN: 50,
  cancelUnsupportedHoldMs: 2000,
  cancelAbortWaitMs: 3000,
  crashMidRunMs: 2000,
  crashCapMs: 120_000,
  crashHeadStartMs: 15_000,
  apiDurationS: 5,
  apiWarmupS: 1,
  memoryN: 100_000,
  memoryCapMs: 240_000,
  memorySettleMs: 5000,
  sseClients: 1000,
  sseProbeRequests: 400,
  sseProbeIntervalMs: 50,
  sseRunsPerS: 4,
  sseRunSteps: 10,
  sseStepMs: 50,
  cliCalls: 10,
};

export const QUICK: Sizes = {
  enqueueN: 2000,
  enqueueCapMs: 5000,
  throughputN: 4000,
  throughputCapMs: 4000,
  latencyN: 100,
  latencyWarmup: 10,
  cancelN: 10,
  cancelUnsupportedHoldMs: 2000,
  cancelAbortWaitMs: 3000,
  crashMidRunMs: 2000,
  crashCapMs: 20_000,
  crashHeadStartMs: 5000,
  apiDurationS: 2,
  apiWarmupS: 1,
  memoryN: 10_000,
  memoryCapMs: 60_000,
  memorySettleMs: 3000,
  sseClients: 1000,
  sseProbeRequests: 200,
  sseProbeIntervalMs: 50,
  sseRunsPerS: 4,
  sseRunSteps: 10,
  sseStepMs: 50,
  cliCalls: 5,
};

/** Tiny: only that every path of the harness still runs (test/bench.smoke.test.ts). */
export const SMOKE: Sizes = {
  enqueueN: 20,
  enqueueCapMs: 2000,
  throughputN: 20,
  throughputCapMs: 1000,
  latencyN: 5,
  latencyWarmup: 2,
  cancelN: 2,
  cancelUnsupportedHoldMs: 200,
  cancelAbortWaitMs: 400,
  crashMidRunMs: 200,
  crashCapMs: 1500,
  crashHeadStartMs: 0,
  apiDurationS: 1,
  apiWarmupS: 0,
  memoryN: 50,
  memoryCapMs: 10_000,
  memorySettleMs: 200,
  sseClients: 20,
  sseProbeRequests: 10,
  sseProbeIntervalMs: 20,
  sseRunsPerS: 10,
  sseRunSteps: 3,
  sseStepMs: 10,
  cliCalls: 1,
};
