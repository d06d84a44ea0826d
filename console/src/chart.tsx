/**
 * A uPlot time-series chart as a Preact component: one line per series, sized to its container,
 * coloured from the page's palette (rebuilt when the system switches dark/light). The chart is a
 * picture for the eye; each chart is labelled, and the panes put the same figures in a table.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { num, rate, shortTime } from './format';

export interface Series {
  label: string;
  values: Array<number | null>;
}

const axisFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export const PALETTE = ['#3b82c4', '#d9822b', '#2f9e6f', '#c2415d', '#8b6cc9', '#5fa8a0', '#b0892f', '#d36fb5', '#6c8a3a', '#7a7f8c'];

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function options(title: string, series: Series[], width: number, unit: 'rate' | 'count'): uPlot.Options {
  const fg = cssVar('--fg-muted', '#555');
  const grid = cssVar('--grid', '#ddd');
  const fmt = unit === 'rate' ? rate : num;
  const tick = unit === 'rate' ? (n: number) => axisFmt.format(n) : num;
  const axis = (values: uPlot.Axis['values']): uPlot.Axis => ({ stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values });
  return {
    title,
    width,
    height: 200,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(unit === 'rate' ? 1 : 4, max * 1.1)] } },
    series: [
      { value: (_u, v) => (v === null || v === undefined ? '–' : shortTime(v * 1000)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: PALETTE[i % PALETTE.length]!,
        width: 2,
        spanGaps: false,
        points: { show: false },
        value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : fmt(v)),
      })),
    ],
    axes: [
      axis((_u, splits) => splits.map((s) => shortTime(s * 1000))),
      { ...axis((_u, splits) => splits.map((s) => tick(s))), size: 56 },
    ],
  };
}

export function Chart({ title, xs, series, unit, label }: { title: string; xs: number[]; series: Series[]; unit: 'rate' | 'count'; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const shape = useRef('');
  const data: uPlot.AlignedData = [xs, ...series.map((s) => s.values)];
  const latest = useRef({ data, series });
  latest.current = { data, series };

  // (Re)build when the set of series changes or the colour scheme flips; otherwise only new data.
  const key = `${title}|${series.map((s) => s.label).join(',')}`;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const build = () => {
      plot.current?.destroy();
      plot.current = new uPlot(options(title, latest.current.series, Math.max(280, el.clientWidth), unit), latest.current.data, el);
      shape.current = key;
    };
    build();
    const scheme = window.matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', build);
    const ro = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (plot.current && w > 0 && Math.abs(plot.current.width - w) > 2) plot.current.setSize({ width: Math.max(280, w), height: 200 });
    });
    ro.observe(el);
    return () => {
      scheme.removeEventListener('change', build);
      ro.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [key]);

  useEffect(() => {
    if (plot.current && shape.current === key) plot.current.setData(data);
  });

  return <div class="chart" ref={box} role="img" aria-label={label} />;
}
