/**
 * Action parameters and results, checked the same way by the daemon's action registry, its plugin
 * worker and the testing kit: params against the action's JSON Schema with one set of Ajv settings
 * (2020-12, all errors, defaults filled, formats), and a handler's return value as an ActionResult
 * that survives JSON.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { ActionFailedError, InvalidParamsError } from '../errors.js';
import type { ActionResult, JsonSchema } from '../plugin.js';

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;

/** A compiled params schema. */
export type ParamsValidator = ValidateFunction;

/** The Ajv instance params schemas are compiled with. */
export function createParamsAjv(): Ajv2020 {
  return addFormats(new Ajv2020({ strict: false, allErrors: true, useDefaults: true }));
}

/** Compiles the params schema of action `name`; InvalidParamsError when it is not a valid schema. */
export function compileParams(ajv: Ajv2020, name: string, schema: JsonSchema): ParamsValidator {
  try {
    return ajv.compile(schema);
  } catch (err) {
    throw new InvalidParamsError(`The params schema of action ${name} is not a valid JSON Schema: ${(err as Error).message}`);
  }
}

/** Validates a copy of `params` (defaults filled) and returns it; InvalidParamsError with the failing paths. */
export function checkParams(name: string, validate: ParamsValidator, params: Record<string, unknown> | undefined): Record<string, unknown> {
  const p = structuredClone(params ?? {});
  if (!validate(p)) {
    const errors = (validate.errors ?? []).map((x) => ({ path: x.instancePath || '/', message: x.message ?? 'is invalid', params: x.params }));
    const text = errors.map((x) => `${x.path === '/' ? 'params' : `params${x.path.replace(/\//g, '.')}`} ${x.message}`).join('; ');
    throw new InvalidParamsError(`The parameters of ${name} are invalid: ${text}. See \`heimdall actions\` for its schema.`, { action: name, errors });
  }
  return p;
}

function isActionResult(v: unknown): v is ActionResult {
  return !!v && typeof v === 'object' && typeof (v as ActionResult).success === 'boolean' && typeof (v as ActionResult).message === 'string';
}

/** A handler's return value as the JSON text of an ActionResult (so its size can be measured); ActionFailedError otherwise. */
export function actionResultJson(fullName: string, value: unknown): string {
  if (!isActionResult(value)) {
    throw new ActionFailedError(`The action ${fullName} returned ${JSON.stringify(value)?.slice(0, 200)}, which is not an ActionResult { success: boolean, message: string, data?: object }.`);
  }
  try {
    return JSON.stringify(value);
  } catch (e) {
    throw new ActionFailedError(`The action ${fullName} returned a result that cannot be turned into JSON: ${(e as Error).message}`);
  }
}

/** A handler's return value as the plain ActionResult that crosses to the caller; ActionFailedError otherwise. */
export function checkActionResult(fullName: string, value: unknown): ActionResult {
  return JSON.parse(actionResultJson(fullName, value)) as ActionResult;
}
