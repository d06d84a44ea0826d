/**
 * `heimdall emit <type> [--data JSON] [--file NDJSON|-]`: send events to POST /v1/events.
 *
 * - `emit node.created --data '{"nodeId":"4:x:1"}'` sends one event `{ type, ...data }`.
 * - `emit --file events.ndjson` (or `--file -` for stdin) sends the file as NDJSON in batches of
 *   at most 5000 lines / 1 MiB, so any file fits under the daemon's body limit. A <type> given
 *   with --file fills in lines that have no "type".
 * Exit 0 when every event was accepted, 1 when any was rejected (each is listed with its line).
 */
import { readFile } from 'node:fs/promises';
import { type Command } from 'commander';
import { closest } from '../../config/messages.js';
import { ErrorCode, EVENT_TYPES, isEventType } from '../../sdk/index.js';
import { ApiError, type DaemonClient } from './client.js';
import { CliError, EXIT_FAILURE, parseJsonObjectOption, usageError } from './exit.js';
import { out, plural, printJson } from './output.js';
import { type RemoteOptions, withClient, withRemoteOptions } from './remote.js';

const BATCH_LINES = 5000;
const BATCH_BYTES = 1024 * 1024;
const LISTED = 20;

interface Rejection { index: number; line?: number; id?: string; reason: string }
interface EventsAnswer { accepted: number; rejected: Rejection[]; rejectedCount?: number; ids: string[] }

type EmitOptions = RemoteOptions & { data?: string; file?: string };

async function readInput(file: string): Promise<string> {
  if (file !== '-') {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw usageError(`Cannot read --file ${file}: ${(err as Error).message}.`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Fills `type` into lines that have none; lines that are not JSON are sent as-is for the daemon to report. */
function withDefaultType(line: string, type: string | undefined): string {
  if (type === undefined || line.trim() === '') return line;
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && !('type' in v)) return JSON.stringify({ type, ...v });
  } catch {
    /* keep the line; the daemon rejects it with its line number */
  }
  return line;
}

/** Posts one batch; an all-rejected batch (400 HMD_ERR_INVALID_EVENT) is still an answer. */
async function postBatch(send: () => Promise<EventsAnswer>): Promise<EventsAnswer> {
  try {
    return await send();
  } catch (err) {
    if (err instanceof ApiError && err.code === ErrorCode.HMD_ERR_INVALID_EVENT && typeof err.body.error.details === 'object') {
      return err.body.error.details as EventsAnswer;
    }
    throw err;
  }
}

async function sendFile(client: DaemonClient, text: string, type: string | undefined): Promise<EventsAnswer> {
  const lines = text.split('\n');
  const total: EventsAnswer = { accepted: 0, rejected: [], rejectedCount: 0, ids: [] };
  let itemOffset = 0;
  for (let start = 0; start < lines.length;) {
    let end = start;
    let bytes = 0;
    while (end < lines.length && end - start < BATCH_LINES && (bytes === 0 || bytes + lines[end]!.length < BATCH_BYTES)) {
      bytes += lines[end]!.length + 1;
      end++;
    }
    const batch = lines.slice(start, end).map((l) => withDefaultType(l, type));
    const items = batch.filter((l) => l.trim() !== '').length;
    if (items > 0) {
      const answer = await postBatch(() => client.postNdjson<EventsAnswer>('/v1/events', batch.join('\n')));
      total.accepted += answer.accepted;
      total.ids.push(...answer.ids);
      total.rejectedCount! += answer.rejectedCount ?? answer.rejected.length;
      for (const r of answer.rejected) {
        const line = r.line === undefined ? undefined : r.line + start;
        total.rejected.push({ ...r, index: r.index + itemOffset, ...(line === undefined ? {} : { line, reason: r.reason.replace(/^Line \d+ /, `Line ${line} `) }) });
      }
    }
    itemOffset += items;
    start = end;
  }
  return total;
}

function report(answer: EventsAnswer, json: boolean | undefined): void {
  const rejectedCount = answer.rejectedCount ?? answer.rejected.length;
  if (json) printJson(answer);
  else {
    const seen = answer.accepted + rejectedCount;
    out(`Accepted ${answer.accepted} of ${plural(seen, 'event')}${rejectedCount ? `; rejected ${rejectedCount}:` : '.'}`);
    for (const r of answer.rejected.slice(0, LISTED)) {
      const where = r.line !== undefined ? `line ${r.line}` : `item ${r.index}`;
      out(`  ${where}${r.id ? ` (id ${r.id})` : ''}: ${r.reason}`);
    }
    if (rejectedCount > LISTED) out(`  … and ${rejectedCount - LISTED} more; use --json to see them all.`);
    if (answer.ids.length === 1 && seen === 1) out(`Event id: ${answer.ids[0]}`);
  }
  // The summary above already says what was rejected: exit 1 without repeating it.
  if (rejectedCount > 0) throw new CliError('', EXIT_FAILURE);
}

export function registerEmit(program: Command): void {
  withRemoteOptions(program.command('emit')
    .description('Send events to the daemon, as the http source: one event from <type> and --data, or many from an NDJSON file.')
    .argument('[type]', `event type, e.g. node.created (required unless --file is given; one of ${EVENT_TYPES.length} types)`)
    .option('--data <json>', 'the event\'s other fields as a JSON object, e.g. --data \'{"nodeId":"4:x:1","nodeLabels":["Person"]}\'')
    .option('--file <path>', 'an NDJSON file with one event per line, or - for standard input'))
    .action(async (type: string | undefined, opts: EmitOptions) => {
      if (type !== undefined && !isEventType(type)) {
        const near = closest(type, EVENT_TYPES);
        throw usageError(`"${type}" is not an event type. ${near ? `Did you mean ${near}? ` : ''}Known types: ${EVENT_TYPES.join(', ')}.`);
      }
      if (opts.file !== undefined && opts.data !== undefined) {
        throw usageError('--data and --file cannot be combined: use --data for one event, or put every event (with its fields) on its own line of the --file.');
      }
      if (opts.file === undefined && type === undefined) {
        throw usageError('Give an event type (e.g. `heimdall emit node.created --data \'{...}\'`) or an NDJSON file with --file.');
      }
      const data = opts.data === undefined ? {} : parseJsonObjectOption('--data', opts.data, '{"nodeId":"4:x:1"}');
      if (type !== undefined && typeof data['type'] === 'string' && data['type'] !== type) {
        throw usageError(`--data has "type": "${data['type']}" but the <type> argument is ${type}; give the type once.`);
      }
      const text = opts.file === undefined ? undefined : await readInput(opts.file);
      await withClient(opts, async (client) => {
        const answer = text === undefined
          ? await postBatch(() => client.postJson<EventsAnswer>('/v1/events', { ...data, type }))
          : await sendFile(client, text, type);
        report(answer, opts.json);
      });
    });
}
