// Benchmark plugin (issue 12 item 3): one single-node CREATE through ctx.database.query (write: true), and a no-op.
export default {
  name: 'bench-writer',
  version: '1.0.0',
  events: [],
  actions() {
    return {
      create: {
        description: 'Creates one (:BenchWrite {i}) node through ctx.database.query.',
        params: { type: 'object', properties: { i: { type: 'integer' } }, required: ['i'] },
        async handler(actx) {
          const rows = await actx.database.query('CREATE (n:BenchWrite {i: $i}) RETURN n.i AS i', { i: actx.params.i });
          return { success: true, message: 'created', data: { i: rows[0]?.i } };
        },
      },
      noop: {
        description: 'Does nothing (the HTTP + worker round trip without a database).',
        params: { type: 'object', properties: {} },
        async handler() {
          return { success: true, message: 'ok' };
        },
      },
    };
  },
};
