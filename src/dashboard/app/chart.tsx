import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';

/** One line of a chart; its colour is the CSS variable `--chart-<key>`. */
export interface ChartLine {
  key: string;
  label: string;
  values: (number | null)[];
  /** What the legend says for bucket `index`, or for the whole window when it is null. */
  text: (index: number | null) => string;
}

export interface ChartProps {
  /** The accessible name: what the chart shows, with a text summary of its data. */
  label: string;
  /** Bucket starts, in seconds. */
  x: number[];
  lines: ChartLine[];
  /** The legend's heading while the pointer is not on the chart, e.g. "Total". */
  whole: string;
  yTick: (value: number) => string;
  /** Allowed y-axis steps (counts: whole numbers). */
  ySteps: number[];
  /** Draw every point: a value between two empty buckets is a point, not a line. */
  points?: boolean;
}

const HEIGHT = 200;
const FONT = '12px system-ui, sans-serif';
/** Tick space + gap beside the y-axis labels. */
const Y_AXIS_PAD = 18;

/** The top of the y scale: a whole number of steps just above `max`, about four of them. */
function roundTop(max: number, steps: number[]): number {
  const step = steps.find((s) => max / s <= 4) ?? steps[steps.length - 1]!;
  return Math.max(1, Math.ceil((max * 1.05) / step)) * step;
}

let measurer: CanvasRenderingContext2D | null = null;
/** The y-axis width that fits its longest label (measured on a canvas of our own, in CSS px). */
function yAxisSize(_u: uPlot, values: string[] | null): number {
  measurer ??= document.createElement('canvas').getContext('2d');
  if (!measurer || !values?.length) return 40;
  measurer.font = FONT;
  return (
    Math.ceil(Math.max(...values.map((text) => measurer!.measureText(text).width))) + Y_AXIS_PAD
  );
}

/** Y-axis steps for counts: whole numbers only. */
export const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000];

/**
 * Bumps when the colours change: the Theme toggle (`data-theme`) or the system's scheme. uPlot
 * draws on a canvas with explicit colours, so charts read the CSS variables again and redraw.
 */
function useThemeVersion(): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const bump = () => setVersion((v) => v + 1);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', bump);
    const observer = new MutationObserver(bump);
    observer.observe(document.documentElement, { attributeFilter: ['data-theme'] });
    return () => {
      scheme.removeEventListener('change', bump);
      observer.disconnect();
    };
  }, []);
  return version;
}

/** When a bucket starts, as the reader's locale writes it (the legend while pointing). */
function bucketTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/**
 * A time-series chart (uPlot on a canvas) with its own legend in the page: the names and the
 * values of the whole window, or of the bucket under the pointer. Fills its container's width
 * and follows it; the canvas is an image with `label` as its text.
 */
export function Chart({ label, x, lines, whole, yTick, ySteps, points }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const theme = useThemeVersion();
  const [cursor, setCursor] = useState<number | null>(null);
  const data = (): uPlot.AlignedData => [x, ...lines.map((line) => line.values)];
  const shape = lines.map((line) => line.key).join();

  useEffect(() => {
    const element = box.current!;
    const style = getComputedStyle(document.documentElement);
    const color = (name: string) => style.getPropertyValue(name).trim();
    const axis = {
      stroke: color('--muted'),
      font: FONT,
      grid: { stroke: color('--line'), width: 1 },
      ticks: { stroke: color('--line'), width: 1 },
    };
    const chart = new uPlot(
      {
        width: element.clientWidth,
        height: HEIGHT,
        legend: { show: false },
        // Zooming by drag would last only until the next refresh.
        cursor: { drag: { x: false, y: false }, points: { size: 7 } },
        scales: {
          y: { range: (_u, _min, max) => [0, roundTop(max ?? 0, ySteps)] },
        },
        axes: [
          { ...axis, space: 70 },
          {
            ...axis,
            size: yAxisSize,
            incrs: ySteps,
            values: (_u, splits) => splits.map(yTick),
          },
        ],
        series: [
          {},
          ...lines.map((line) => ({
            label: line.label,
            stroke: color(`--chart-${line.key}`),
            width: 2,
            ...(points
              ? { points: { show: true, size: 6, fill: color(`--chart-${line.key}`) } }
              : {}),
          })),
        ],
        hooks: {
          setCursor: [(u) => setCursor(u.cursor.idx ?? null)],
        },
      },
      data(),
      element,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() => {
      if (element.clientWidth > 0) chart.setSize({ width: element.clientWidth, height: HEIGHT });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [theme, shape]);

  useEffect(() => {
    plot.current?.setData(data());
  }, [x, lines]);

  const at = cursor !== null && cursor < x.length ? cursor : null;
  return (
    <>
      <div class="chart-plot" role="img" aria-label={label} ref={box} />
      <div class="chart-legend">
        <span class="muted">{at === null ? whole : bucketTime(x[at]!)}</span>
        <ul aria-label="Legend">
          {lines.map((line) => (
            <li key={line.key}>
              <span class={`swatch chart-${line.key}`} aria-hidden="true" />
              {line.label} <strong>{line.text(at)}</strong>
            </li>
          ))}
        </ul>
      </div>
    </>
  );
}
