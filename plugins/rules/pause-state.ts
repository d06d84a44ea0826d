/**
 * Which rules an operator paused, kept in a small JSON file so a pause survives a worker restart
 * (and a daemon restart): `{ "paused": ["rule-a", "rule-b"] }`, written whole (temp file and
 * rename) on every pause and resume. Names of rules that no longer exist are kept, so a rule that
 * comes back stays paused.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PluginLogger } from '../../sdk/index.js';

export class PauseState {
  private readonly paused = new Set<string>();
  private warned = false;

  /** `path` undefined keeps the state in memory only. */
  constructor(
    readonly path: string | undefined,
    private readonly log: PluginLogger,
  ) {}

  load(): void {
    if (!this.path || !existsSync(this.path)) return;
    try {
      const j = JSON.parse(readFileSync(this.path, 'utf8')) as { paused?: unknown };
      if (Array.isArray(j.paused)) for (const n of j.paused) if (typeof n === 'string') this.paused.add(n);
    } catch (err) {
      this.log.warn(`The rules state file ${this.path} could not be read (${(err as Error).message}); every rule starts unpaused.`);
    }
  }

  has(name: string): boolean {
    return this.paused.has(name);
  }

  names(): string[] {
    return [...this.paused];
  }

  /** Sets or clears the pause of `name`; returns false when nothing changed. */
  set(name: string, paused: boolean): boolean {
    if (this.paused.has(name) === paused) return false;
    if (paused) this.paused.add(name);
    else this.paused.delete(name);
    this.save();
    return true;
  }

  private save(): void {
    if (!this.path) return;
    const tmp = `${this.path}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, `${JSON.stringify({ paused: [...this.paused].sort() }, null, 2)}\n`);
      renameSync(tmp, this.path);
    } catch (err) {
      if (!this.warned) this.log.warn(`The rules state file ${this.path} cannot be written (${(err as Error).message}); pauses hold until the worker restarts.`);
      this.warned = true;
    }
  }
}
