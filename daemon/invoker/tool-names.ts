/**
 * Action names (`heimdall.audit.remediate`) are not valid function-tool names, which must match
 * `[a-zA-Z0-9_-]{1,64}`. `heimdall.` is dropped, dots become `__`, anything else becomes `_`;
 * a clash or an over-long name gets a short hash suffix. The map is built per prompt and maps back.
 */
import { createHash } from 'node:crypto';

export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

function sanitize(action: string): string {
  const short = action.startsWith('heimdall.') ? action.slice('heimdall.'.length) : action;
  const s = short.replace(/\./g, '__').replace(/[^a-zA-Z0-9_-]/g, '_');
  return s === '' ? 'action' : s;
}

function hash6(s: string): string {
  return createHash('sha1').update(s).digest('hex').slice(0, 6);
}

export class ToolNameMap {
  private readonly toTool = new Map<string, string>();
  private readonly toAction = new Map<string, string>();

  constructor(actions: readonly string[]) {
    for (const a of [...actions].sort()) {
      let t = sanitize(a);
      if (t.length > 64 || this.toAction.has(t)) t = `${t.slice(0, 57)}_${hash6(a)}`;
      this.toTool.set(a, t);
      this.toAction.set(t, a);
    }
  }

  tool(action: string): string | undefined {
    return this.toTool.get(action);
  }

  /** The action for a tool name; models sometimes answer with the dotted action name, which is accepted too. */
  action(tool: string): string | undefined {
    return this.toAction.get(tool) ?? (this.toTool.has(tool) ? tool : undefined) ?? (this.toTool.has(`heimdall.${tool}`) ? `heimdall.${tool}` : undefined);
  }

  get actions(): string[] {
    return [...this.toTool.keys()];
  }

  get tools(): string[] {
    return [...this.toAction.keys()];
  }
}
