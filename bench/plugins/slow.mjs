// Takes about 1 ms per event (busy wait, so the rate is steady): ~1,000 events/s at most.
export default {
  name: 'slow',
  version: '1.0.0',
  onDatabaseEvent() {
    const end = performance.now() + 1;
    while (performance.now() < end) { /* busy */ }
  },
};
