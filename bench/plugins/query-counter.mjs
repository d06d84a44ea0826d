// Counts query.executed events and records source-to-handler latency from queryParams.t0 (epoch ms
// with sub-ms precision, the client's send time; the proxy needs captureParams: full to carry it).
const lat = [];
let count = 0;
const now = () => performance.timeOrigin + performance.now();
export default {
  name: 'query-counter',
  version: '1.0.0',
  events: ['query.executed'],
  onDatabaseEvent(event) {
    count++;
    const t0 = event.queryParams?.t0;
    if (typeof t0 === 'number') lat.push(now() - t0);
  },
  actions() {
    return {
      take: {
        description: 'Returns the count so far and the latencies recorded since the last take (and forgets them).',
        handler: () => {
          const out = lat.splice(0, lat.length);
          return { success: true, message: String(count), data: { count, latencies: out } };
        },
      },
    };
  },
};
