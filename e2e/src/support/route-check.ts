// What "no route lost or wrong" means, checked against the live API: every KAOS resource has exactly
// its one HTTPRoute, equal to the desired one after the API server's defaults, and its status names
// it; no managed route is left without its resource.
import type { HTTPRoute, KaosResource } from '@kaos/api-types';
import { MANAGED_ROUTE_SELECTOR, desiredRoute, routeDifferences, routeName, type RoutingConfig } from '@kaos/routing';
import type { ControlPlane } from '../control-plane/index.js';
import { getJson } from './cluster.js';

/** Problems with the routes of `namespace` (every namespace when omitted); empty when all are right. */
export async function routeProblems(plane: Pick<ControlPlane, 'kubectl'>, config: RoutingConfig, namespace?: string): Promise<string[]> {
  const scope = namespace === undefined ? ['-A'] : ['-n', namespace];
  const routes = (await getJson<{ items: HTTPRoute[] }>(plane, ['get', 'httproutes', ...scope, '-l', MANAGED_ROUTE_SELECTOR]))?.items;
  const resources = (await getJson<{ items: KaosResource[] }>(plane, ['get', 'agents,modelapis,mcpservers', ...scope]))?.items;
  if (!routes || !resources) return ['API not answering'];
  const problems: string[] = [];
  const key = (objectNamespace: string | undefined, name: string) => `${objectNamespace}/${name}`;
  const live = new Map(routes.map((route) => [key(route.metadata.namespace, route.metadata.name!), route]));
  for (const resource of resources) {
    const name = routeName(resource);
    const where = key(resource.metadata.namespace, name);
    const route = live.get(where);
    live.delete(where);
    if (!route) {
      problems.push(`${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name}: no route`);
      continue;
    }
    const differences = routeDifferences(desiredRoute(resource, config)!, route);
    if (differences.length > 0) problems.push(`${where}: ${differences.join(', ')}`);
    if (resource.status?.gateway?.routeName !== name) problems.push(`${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name}: status.gateway.routeName is ${resource.status?.gateway?.routeName}`);
  }
  for (const orphan of live.keys()) problems.push(`${orphan}: route without its resource`);
  return problems;
}
