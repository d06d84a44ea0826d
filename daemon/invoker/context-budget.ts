/**
 * Token estimates and trimming for the system prompt. No tokenizer ships with every
 * OpenAI-compatible server, so tokens are estimated from characters (about 3.5 per token for
 * English and JSON, a slight over-estimate that keeps prompts inside the window).
 */

const CHARS_PER_TOKEN = 3.5;

export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / CHARS_PER_TOKEN);
}

export interface FittedContext {
  /** Compact JSON of what is kept ('' when there is no context). */
  text: string;
  tokens: number;
  /** Array items dropped from the front (oldest first). */
  droppedItems: number;
  /** True when the JSON had to be cut as text after dropping items. */
  truncated: boolean;
}

const json = (v: unknown): string => {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return JSON.stringify(String(v));
  }
};

/** The arrays that can lose items: the value itself, or its top-level array properties. */
function arraysOf(v: unknown): unknown[][] {
  if (Array.isArray(v)) return [v];
  if (typeof v === 'object' && v !== null) return Object.values(v).filter((x): x is unknown[] => Array.isArray(x));
  return [];
}

/**
 * Fits `context` into `maxTokens`: drops the oldest items (the front) of the longest arrays first,
 * then cuts the text. Arrays in the context are taken to be oldest first, as plugins collect them.
 */
export function fitContext(context: unknown, maxTokens: number): FittedContext {
  if (context === undefined || context === null) return { text: '', tokens: 0, droppedItems: 0, truncated: false };
  const copy: unknown = structuredClone(context);
  let text = json(copy);
  if (estimateTokens(text) <= maxTokens) return { text, tokens: estimateTokens(text), droppedItems: 0, truncated: false };
  const maxChars = Math.max(0, Math.floor(maxTokens * CHARS_PER_TOKEN));
  let over = text.length - maxChars;
  let dropped = 0;
  const arrays = arraysOf(copy).sort((a, b) => b.length - a.length);
  for (const arr of arrays) {
    while (over > 0 && arr.length > 0) {
      const item = arr.shift();
      over -= json(item).length + 1;
      dropped++;
    }
    if (over <= 0) break;
  }
  text = json(copy);
  let truncated = false;
  if (text.length > maxChars) {
    const note = '…(cut to fit the token budget)';
    text = maxChars > note.length ? text.slice(0, maxChars - note.length) + note : '';
    truncated = true;
  }
  return { text, tokens: estimateTokens(text), droppedItems: dropped, truncated };
}
