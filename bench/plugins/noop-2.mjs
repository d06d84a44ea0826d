// noop-1 under another name: each plugin runs in its own worker, with its own counter.
import noop from './noop-1.mjs';
export default { ...noop, name: 'noop-2' };
