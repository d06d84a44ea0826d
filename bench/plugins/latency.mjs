// Records ingest-to-handler latency from metadata.t0 (epoch ms with sub-ms precision).
const lat = [];
const now = () => performance.timeOrigin + performance.now();
// At most this many latencies per answer, so one answer stays under limits.actions.maxResultBytes.
const PAGE = 40_000;
export default {
  name: 'latency',
  version: '1.0.0',
  onDatabaseEvent(event) {
    const t0 = event.metadata?.t0;
    if (typeof t0 === 'number') lat.push(now() - t0);
  },
  actions() {
    return {
      take: {
        description: 'Returns and clears up to 40,000 of the latencies recorded so far, oldest first; call again until it returns none.',
        handler: () => {
          const out = lat.splice(0, PAGE);
          return { success: true, message: String(out.length), data: { latencies: out } };
        },
      },
    };
  },
};
