/**
 * Text forms of a Bifrost message for people: the one-line form of `heimdall tail`, and the
 * Slack-compatible text of the webhook sink. Colours are plain ANSI escapes, only when asked for.
 */
import type { BifrostMessage } from './bus.js';
import { originName } from './filter.js';

const ANSI = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  magenta: '\x1b[35m',
  cyan: '\x1b[36m',
} as const;

export type Colour = keyof typeof ANSI;

export function paint(on: boolean, colour: Colour, text: string): string {
  return on ? `${ANSI[colour]}${text}${ANSI.reset}` : text;
}

const LEVEL_COLOUR: Record<string, Colour> = { info: 'cyan', success: 'green', warning: 'yellow', error: 'red' };

/** "12:34:56.789" in local time. */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const KIND_TAG: Record<string, string> = {
  message: '',
  notification: '',
  broadcast: 'broadcast ',
  confirmation_request: '',
  confirmation_result: '',
};

/**
 * One line: time, level, origin, title, message; with `verbose`, the data as indented JSON on the
 * following lines.
 */
export function formatLine(m: BifrostMessage, opts: { colour: boolean; verbose?: boolean; date?: boolean }): string {
  const c = opts.colour;
  const time = opts.date ? m.timestamp : clockTime(m.timestamp);
  const level = paint(c, LEVEL_COLOUR[m.level] ?? 'cyan', m.level.toUpperCase().padEnd(7));
  const origin = paint(c, 'bold', originName(m).padEnd(12));
  const tag = KIND_TAG[m.kind] ?? `${m.kind} `;
  const title = m.title ? `${paint(c, 'bold', m.title)}: ` : '';
  let line = `${paint(c, 'dim', time)} ${level} ${origin} ${tag}${title}${m.message.replace(/[\r\n]+/g, ' ')}`;
  if (opts.verbose && m.data !== undefined && Object.keys(m.data).length > 0) {
    line += `\n${paint(c, 'dim', JSON.stringify(m.data, null, 2).split('\n').map((l) => `    ${l}`).join('\n'))}`;
  }
  return line;
}

const SLACK_EMOJI: Record<string, string> = { info: ':information_source:', success: ':white_check_mark:', warning: ':warning:', error: ':rotating_light:' };

/** Slack-compatible text (mrkdwn): level marker, bold title, message, origin. */
export function slackText(m: BifrostMessage): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const title = m.title ? `*${esc(m.title)}* ` : '';
  return `${SLACK_EMOJI[m.level] ?? ''} ${title}${esc(m.message)} _(${esc(originName(m))}, ${m.kind} #${m.id})_`.trim();
}
