// A plugin whose handler does nothing; its name comes from the config so one file serves several plugins.
let n = 0;
export default {
  name: 'noop-4',
  version: '1.0.0',
  onDatabaseEvent() {
    n++;
  },
  actions() {
    return { count: { description: 'Events handled.', handler: () => ({ success: true, message: String(n), data: { n } }) } };
  },
};
