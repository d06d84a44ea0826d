/**
 * Plugins and queues: each plugin's state and counters (from /v1/status, refreshed every 2 s),
 * and charts of the last 15 minutes (events/s delivered, events/s dropped, queue depth, per
 * plugin) from the daemon's sampled history (/v1/metrics/history: full on open, then only the new
 * samples every 5 s), with the same figures in a table below the charts.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { Chart, type Series } from '../chart';
import { ErrorLine, Num, Section, StateBadge } from '../components';
import { duration, num, rate } from '../format';
import type { HistorySample, MetricsHistory, PluginStatus } from '../types';
import { ApiError } from '../api';

function Dropped({ p }: { p: PluginStatus }) {
  const reasons = Object.entries(p.counters.dropped).filter(([, n]) => n > 0);
  return (
    <span>
      <Num n={p.counters.droppedTotal} className={p.counters.droppedTotal > 0 ? 'warn-text' : ''} />
      {reasons.length > 0 ? <div class="muted small nowrap">{reasons.map(([r, n]) => `${r.replace(/_/g, ' ')}: ${num(n)}`).join(', ')}</div> : null}
    </span>
  );
}

export function PluginTable({ plugins }: { plugins: PluginStatus[] }) {
  if (plugins.length === 0) return <p class="empty">No plugins are configured (the plugins: section of heimdall.config.yaml).</p>;
  return (
    <div class="table-wrap">
      <table class="stack">
        <caption class="sr-only">Plugins and their queue counters</caption>
        <thead>
          <tr>
            <th scope="col">Plugin</th>
            <th scope="col">State</th>
            <th scope="col" class="r">Received</th>
            <th scope="col" class="r">Delivered</th>
            <th scope="col" class="r">Dropped</th>
            <th scope="col" class="r">Failed</th>
            <th scope="col" class="r">Queued</th>
            <th scope="col" class="r">Restarts</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {plugins.map((p) => (
            <tr key={p.name} data-plugin={p.name}>
              <th scope="row" data-label="Plugin">
                {p.name}
                {p.version ? <span class="muted small"> {p.version}</span> : null}
                {p.description ? <div class="muted small">{p.description}</div> : null}
              </th>
              <td data-label="State"><StateBadge state={p.state} /></td>
              <td data-label="Received" class="r"><Num n={p.counters.received} /></td>
              <td data-label="Delivered" class="r"><Num n={p.counters.delivered} /></td>
              <td data-label="Dropped" class="r" data-testid="dropped"><Dropped p={p} /></td>
              <td data-label="Failed" class="r"><Num n={p.counters.failed} className={p.counters.failed > 0 ? 'warn-text' : ''} /></td>
              <td data-label="Queued" class="r">
                <Num n={p.counters.queued} /> <span class="muted small">/ {num(p.counters.capacity)}</span>
                <div class="muted small nowrap">peak {num(p.counters.highWaterMark)} · {p.counters.whenFull.replace(/_/g, ' ')}</div>
              </td>
              <td data-label="Restarts" class="r"><Num n={p.restarts} /></td>
              <td data-label="Last error" class="wrap">{p.reason ?? <span class="muted">none</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The history, kept within the daemon's window; new samples appended as they come. */
function useHistory(): { history: HistorySample[]; intervalMs: number; error: ApiError | undefined } {
  const [state, setState] = useState<{ samples: HistorySample[]; intervalMs: number; windowMs: number }>({ samples: [], intervalMs: 5000, windowMs: 900_000 });
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const last = useRef<number | undefined>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const since = last.current;
        const h = await api<MetricsHistory>(`/v1/metrics/history${since !== undefined ? `?since=${since}` : ''}`, { signal: controller.signal });
        setError(undefined);
        if (h.samples.length > 0) last.current = h.samples[h.samples.length - 1]!.t;
        setState((s) => {
          const merged = since === undefined ? h.samples : [...s.samples, ...h.samples];
          const keep = merged.slice(Math.max(0, merged.length - h.capacity));
          return { samples: keep, intervalMs: h.intervalMs, windowMs: h.windowMs };
        });
        timer = setTimeout(() => void tick(), Math.max(1000, h.intervalMs));
      } catch (err) {
        if (controller.signal.aborted) return;
        setError(err instanceof ApiError ? err : new ApiError(0, undefined, String(err)));
        timer = setTimeout(() => void tick(), 5000);
      }
    };
    void tick();
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, []);
  return { history: state.samples, intervalMs: state.intervalMs, error };
}

type Metric = 'deliveredPerS' | 'droppedPerS' | 'queued';

function seriesOf(samples: HistorySample[], names: string[], metric: Metric): Series[] {
  return names.map((name) => ({ label: name, values: samples.map((s) => s.plugins[name]?.[metric] ?? null) }));
}

export function PluginsPane({ plugins, error }: { plugins: PluginStatus[] | undefined; error: ApiError | undefined }) {
  const { history, intervalMs, error: historyError } = useHistory();
  const names = [...new Set(history.flatMap((s) => Object.keys(s.plugins)))].sort();
  const xs = history.map((s) => s.t / 1000);
  const first = history[0];
  const lastS = history[history.length - 1];
  const span = first && lastS ? lastS.t - first.t : 0;
  return (
    <div class="pane">
      <div class="pane-head"><h2>Plugins and queues</h2></div>
      <ErrorLine error={error} what="Status" />
      {plugins ? <Section title="Plugins" id="plugins-table"><PluginTable plugins={plugins} /></Section> : <p class="muted">Loading…</p>}
      <Section title="The last 15 minutes" id="plugins-charts">
        <ErrorLine error={historyError} what="History" />
        <p class="muted small">
          Sampled by the daemon every {duration(intervalMs)}; {history.length > 1 ? `${num(history.length)} samples over ${duration(span)}` : 'the first samples are on their way'}.
        </p>
        {names.length === 0 ? <p class="empty">No plugin to chart yet.</p> : (
          <div class="charts">
            <Chart title="Delivered, events/s" unit="rate" xs={xs} series={seriesOf(history, names, 'deliveredPerS')} label="Events delivered per second, per plugin, over the last 15 minutes; the table below has the figures." />
            <Chart title="Dropped, events/s" unit="rate" xs={xs} series={seriesOf(history, names, 'droppedPerS')} label="Events dropped per second, per plugin, over the last 15 minutes; the table below has the figures." />
            <Chart title="Queue depth" unit="count" xs={xs} series={seriesOf(history, names, 'queued')} label="Events queued, per plugin, over the last 15 minutes; the table below has the figures." />
          </div>
        )}
        {names.length > 0 && first && lastS ? (
          <div class="table-wrap">
            <table class="stack" data-testid="history-table">
              <caption>Over the charted window ({duration(span)})</caption>
              <thead>
                <tr>
                  <th scope="col">Plugin</th>
                  <th scope="col" class="r">Delivered</th>
                  <th scope="col" class="r">Dropped</th>
                  <th scope="col" class="r">Peak dropped/s</th>
                  <th scope="col" class="r">Peak queue depth</th>
                </tr>
              </thead>
              <tbody>
                {names.map((name) => {
                  const a = first.plugins[name];
                  const b = lastS.plugins[name];
                  const delivered = b && a ? Math.max(0, b.delivered - a.delivered) : b?.delivered;
                  const dropped = b && a ? Math.max(0, b.dropped - a.dropped) : b?.dropped;
                  let peakDrop = 0;
                  let peakQueue = 0;
                  for (const s of history) {
                    const p = s.plugins[name];
                    if (!p) continue;
                    if (p.droppedPerS > peakDrop) peakDrop = p.droppedPerS;
                    if (p.queued > peakQueue) peakQueue = p.queued;
                  }
                  return (
                    <tr key={name} data-plugin={name}>
                      <th scope="row" data-label="Plugin">{name}</th>
                      <td data-label="Delivered" class="r"><Num n={delivered} /></td>
                      <td data-label="Dropped" class="r" data-testid="window-dropped"><Num n={dropped} className={dropped ? 'warn-text' : ''} /></td>
                      <td data-label="Peak dropped/s" class="r">{rate(peakDrop)}</td>
                      <td data-label="Peak queue depth" class="r"><Num n={peakQueue} /></td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
      </Section>
    </div>
  );
}
