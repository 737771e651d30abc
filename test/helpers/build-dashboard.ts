// Vitest global set-up: the server serves the dashboard from dist/, so build it before any test.
// @ts-expect-error a plain ESM build script without type declarations
import { buildDashboard } from '../../scripts/build-dashboard.mjs';

export default async function setup(): Promise<void> {
  await (buildDashboard as () => Promise<number>)();
}
