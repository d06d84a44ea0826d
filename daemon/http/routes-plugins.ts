/**
 * One plugin's lifecycle, for operators (under /v1, so behind the bearer token when one is set):
 *
 *   POST /v1/plugins/{name}/restart   fresh worker (fresh module state), queue and counters kept → { name, state, changed, message }
 *   POST /v1/plugins/{name}/pause     hold delivery; events queue up to capacity (then dropped, reason paused)
 *   POST /v1/plugins/{name}/resume    deliver again, what waited first
 *
 * 404 for an unknown plugin, 409 to pause or resume a failed or stopped one, 500 (PLUGIN_INIT or
 * INVALID_PLUGIN) when a restarted plugin cannot start; it is then failed, as status shows.
 */
import type { FastifyInstance } from 'fastify';
import type { DaemonApi } from './daemon-api.js';
import { noBody } from './routes-rules.js';

export function registerPluginRoutes(app: FastifyInstance, api: DaemonApi): void {
  const control = api.pluginControl;
  if (!control) return;
  type Named = { Params: { name: string } };
  app.post<Named>('/v1/plugins/:name/restart', async (request) => {
    noBody(request.body, 'POST /v1/plugins/{name}/restart');
    return control.restart(request.params.name);
  });
  app.post<Named>('/v1/plugins/:name/pause', async (request) => {
    noBody(request.body, 'POST /v1/plugins/{name}/pause');
    return control.pause(request.params.name);
  });
  app.post<Named>('/v1/plugins/:name/resume', async (request) => {
    noBody(request.body, 'POST /v1/plugins/{name}/resume');
    return control.resume(request.params.name);
  });
}
