/**
 * Sources and database: the daemon (version, state, uptime), the database (up or down, and why),
 * the model, each source's state and counters with its details (the neo4j-apoc outbox backlog
 * among them), and Bifrost's own counters (GET /v1/bifrost/status).
 */
import type { ComponentChildren } from 'preact';
import { api, type ApiError } from '../api';
import { ErrorLine, Facts, Num, Section, StateBadge, Time } from '../components';
import { duration, num } from '../format';
import { usePoll } from '../hooks';
import type { BifrostStats, DaemonStatus, SourceStatus } from '../types';

function detailValue(v: unknown): ComponentChildren {
  if (typeof v === 'number') return num(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (v === null || v === undefined) return 'none';
  if (typeof v === 'string') return v;
  return <code class="small">{JSON.stringify(v)}</code>;
}

function backlogOf(s: SourceStatus): number | undefined {
  const b = s.details?.backlog;
  return typeof b === 'number' ? b : undefined;
}

export function SourcesPane({ status, error }: { status: DaemonStatus | undefined; error: ApiError | undefined }) {
  const bifrost = usePoll((signal) => api<BifrostStats>('/v1/bifrost/status', { signal }), 5000);
  if (!status) return <div class="pane"><ErrorLine error={error} what="Status" /><p class="muted">Loading…</p></div>;
  const db = status.database;
  const b = bifrost.data;
  return (
    <div class="pane">
      <div class="pane-head"><h2>Sources and database</h2></div>
      <ErrorLine error={error} what="Status" />
      <div class="two">
        <Section title="Database" id="src-db">
          {db.configured ? (
            <Facts items={[
              ['State', <StateBadge state={db.connected ? 'up' : 'down'} label={db.connected ? 'up' : 'down'} />],
              ['URI', <code>{db.uri}</code>],
              ...(db.reason ? [['Why', db.reason] as [string, ComponentChildren]] : []),
            ]} />
          ) : <p class="muted">No database is configured (the database: section of heimdall.config.yaml).</p>}
        </Section>
        <Section title="Daemon" id="src-daemon">
          <Facts items={[
            ['State', <StateBadge state={status.state} />],
            ['Version', status.version],
            ['Started', <Time at={status.startedAt} full />],
            ['Up for', duration(status.uptimeS * 1000)],
            ['Model', status.llm.configured ? `${status.llm.model ?? ''} at ${status.llm.baseURL ?? ''}` : 'not configured'],
          ]} />
        </Section>
      </div>
      <Section title="Sources" id="src-sources">
        {status.sources.length === 0 ? <p class="empty">No source is configured.</p> : (
          <div class="table-wrap">
            <table class="stack">
              <caption class="sr-only">Event sources</caption>
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col">State</th>
                  <th scope="col" class="r">Events emitted</th>
                  <th scope="col" class="r">Outbox backlog</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {status.sources.map((s) => {
                  const backlog = backlogOf(s);
                  const rest = Object.entries(s.details ?? {}).filter(([k]) => k !== 'backlog');
                  return (
                    <tr key={s.name} data-source={s.name}>
                      <th scope="row" data-label="Source">{s.name}{s.type !== s.name ? <span class="muted small"> ({s.type})</span> : null}</th>
                      <td data-label="State"><StateBadge state={s.state} />{s.reason ? <div class="small">{s.reason}</div> : null}</td>
                      <td data-label="Events emitted" class="r"><Num n={s.emitted} /></td>
                      <td data-label="Outbox backlog" class="r">{backlog === undefined ? <span class="muted">–</span> : <Num n={backlog} className={backlog > 0 ? 'warn-text' : ''} />}</td>
                      <td data-label="Details" class="wrap">
                        {rest.length === 0 ? <span class="muted">none</span> : <Facts items={rest.map(([k, v]) => [k, detailValue(v)])} />}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Section title="Bifrost" id="src-bifrost">
        <ErrorLine error={bifrost.error} what="Bifrost" />
        {b ? (
          <Facts items={[
            ['Published', num(b.published)],
            ['Replay buffer', `${num(b.lastId - b.oldestId + (b.lastId > 0 ? 1 : 0))} of ${num(b.bufferSize)} (${num(b.evicted)} pushed out)`],
            ['Stream clients', `${num(b.stream.clients)} of at most ${num(b.stream.maxClients)} (${num(b.stream.cutOff)} cut off for reading too slowly)`],
            ['Sinks', b.sinks.length === 0 ? 'none' : b.sinks.map((s) => String(s.type ?? s.name ?? 'sink')).join(', ')],
            ['Confirmations', Object.entries(b.confirmations).map(([k, v]) => `${k} ${num(v)}`).join(', ')],
          ]} />
        ) : <p class="muted">Loading…</p>}
      </Section>
    </div>
  );
}
