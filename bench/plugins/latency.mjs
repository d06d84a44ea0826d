// Records ingest-to-handler latency from metadata.t0 (epoch ms with sub-ms precision).
const lat = [];
const now = () => performance.timeOrigin + performance.now();
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
        description: 'Returns and clears the latencies recorded so far.',
        handler: () => {
          const out = lat.splice(0, lat.length);
          return { success: true, message: String(out.length), data: { latencies: out } };
        },
      },
    };
  },
};
