/**
 * How the page writes times and numbers: times in the browser's time zone with its offset
 * (14:03:22.120 GMT+02:00), numbers with the locale's thousands separators.
 */

const numberFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const rateFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const timeFmt = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hour12: false, timeZoneName: 'longOffset',
});
const shortTimeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZoneName: 'longOffset',
});

export const num = (n: number | undefined | null): string => (n === undefined || n === null || !Number.isFinite(n) ? '–' : numberFmt.format(n));
export const rate = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : rateFmt.format(n));

const toDate = (t: string | number | Date): Date => (t instanceof Date ? t : new Date(t));

/** 14:03:22.120 GMT+02:00 */
export const time = (t: string | number | Date): string => timeFmt.format(toDate(t));
/** 14:03:22 (chart axes) */
export const shortTime = (t: string | number | Date): string => shortTimeFmt.format(toDate(t));
/** 2024-05-01, 14:03:22 GMT+02:00 (in the locale's order) */
export const dateTime = (t: string | number | Date): string => dateTimeFmt.format(toDate(t));

/** 850 ms, 4.2 s, 3 min 5 s, 2 h 4 min */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${num(Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${rateFmt.format(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${num(Math.floor(h / 24))} d ${h % 24} h`;
}

/** "in 42 s" / "3 s ago" */
export function relative(t: string | number, now = Date.now()): string {
  const d = toDate(t).getTime() - now;
  return d >= 0 ? `in ${duration(d)}` : `${duration(-d)} ago`;
}

export function json(v: unknown): string {
  try {
    return JSON.stringify(v, null, 2) ?? String(v);
  } catch {
    return String(v);
  }
}
