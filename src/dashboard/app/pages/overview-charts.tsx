import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { FINAL_STATUSES, client, errorText } from '../api.js';
import { COUNT_STEPS, Chart, type ChartLine } from '../chart.js';
import { ErrorNote } from '../components.js';
import { formatSpan } from '../format.js';
import { useLiveEvents, useThrottled } from '../live.js';
import { navigate, useLocation } from '../router.js';
import {
  CHART_RANGES,
  DURATION_STEPS,
  formatDurationTick,
  isChartRange,
  peakIndex,
  statsSeries,
  type ChartRange,
  type StatsSeries,
} from '../stats-series.js';

/** How often the charts are read again: the newest bucket fills up as time passes. */
export const CHARTS_REFRESH_MS = 15_000;
/** Runs finishing in a burst make one reload, at most this often. */
const FINISHED_RELOAD_MS = 1000;
const DEFAULT_RANGE: ChartRange = 'day';

/**
 * Runs ended by final status and the slowest job's p95 duration, per bucket over the last hour,
 * day or week (the `range` query of the page), from GET /api/stats.
 */
export function RunCharts() {
  const { query } = useLocation();
  const asked = query.get('range');
  const range: ChartRange = isChartRange(asked) ? asked : DEFAULT_RANGE;
  const [shown, setShown] = useState<{ range: ChartRange; series: StatsSeries } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef(0);

  const load = async () => {
    const request = ++latest.current;
    const { spanMs, bucket } = CHART_RANGES[range];
    const to = new Date();
    try {
      const stats = await client.stats({ from: new Date(to.getTime() - spanMs), to, bucket });
      // A later request (another range, a refresh) answers instead.
      if (request !== latest.current) return;
      setShown({ range, series: statsSeries(stats) });
      setError(null);
    } catch (err) {
      if (request === latest.current) setError(errorText(err));
    }
  };
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), CHARTS_REFRESH_MS);
    return () => clearInterval(timer);
  }, [range]);
  const reloadSoon = useThrottled(() => void load(), FINISHED_RELOAD_MS);
  useLiveEvents((event) => {
    if (event.name === 'run.finished' || event.name === 'reset') reloadSoon();
  });

  const setRange = (next: string) => {
    const params = new URLSearchParams(location.search);
    params.set('range', next);
    navigate(`${location.pathname}?${params}`, { replace: true });
  };

  return (
    <>
      <div class="title-row">
        <h2>Runs over time</h2>
        <label class="inline">
          Range
          <select value={range} onChange={(e) => setRange(e.currentTarget.value)}>
            {Object.entries(CHART_RANGES).map(([key, { label }]) => (
              <option key={key} value={key}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={error} />
      {shown ? (
        <ChartPair range={shown.range} series={shown.series} />
      ) : (
        <p class="muted">Loading charts…</p>
      )}
    </>
  );
}

function ChartPair({ range, series }: { range: ChartRange; series: StatsSeries }) {
  const { words, per } = CHART_RANGES[range];

  const ended = useMemo<ChartLine[]>(
    () =>
      FINAL_STATUSES.map((status) => {
        const values = series.ended[status];
        const total = values.reduce((sum, n) => sum + n, 0);
        return {
          key: status,
          label: status,
          values,
          text: (i) => String(i === null ? total : values[i]),
        };
      }),
    [series],
  );
  const totals = ended.map((line) => `${line.text(null)} ${line.label}`).join(', ');

  const peak = peakIndex(series.slowestP95);
  const slowest = useMemo<ChartLine[]>(() => {
    const at = (i: number | null) => {
      const ms = i === null ? null : series.slowestP95[i];
      return i === null || ms === null || ms === undefined
        ? '—'
        : `${formatSpan(ms)} (${series.slowestJob[i]})`;
    };
    return [
      {
        key: 'p95',
        label: 'slowest job’s p95',
        values: series.slowestP95,
        text: (i) => at(i ?? peak),
      },
    ];
  }, [series]);
  const peakText =
    peak === null
      ? 'no run ended'
      : `highest ${slowest[0]!.text(null)} in the ${per} from ${new Date(
          series.x[peak]! * 1000,
        ).toLocaleString()}`;

  return (
    <div class="charts">
      <figure class="chart">
        <figcaption>Runs ended, by final status</figcaption>
        <Chart
          label={`Runs ended per ${per} over ${words}: ${totals}.`}
          x={series.x}
          lines={ended}
          whole={`Total over ${words}`}
          yTick={String}
          ySteps={COUNT_STEPS}
        />
      </figure>
      <figure class="chart">
        <figcaption>Duration p95, slowest job</figcaption>
        <Chart
          label={`The slowest job’s p95 run duration per ${per} over ${words}: ${peakText}.`}
          x={series.x}
          lines={slowest}
          whole={`Highest over ${words}`}
          yTick={formatDurationTick}
          ySteps={DURATION_STEPS}
          points
        />
        <p class="muted chart-note">
          Per bucket, the p95 duration of each job’s runs that ended in it; the line is the highest,
          which is never below the p95 of all those runs together.
        </p>
      </figure>
    </div>
  );
}
