import type { FieldProblem, KaosResource } from '@kaos/api-types';
import type { RoutingConfig } from './config.js';
import { DurationError, isGatewayDuration } from './duration.js';
import { KIND_ROUTING, routeName, routePathPrefix, serviceName } from './naming.js';
import { dns1035LabelProblem, dns1123LabelProblem, dns1123SubdomainProblem, pathPrefixProblems } from './validation.js';

/**
 * Every reason a resource cannot get a valid HTTPRoute, with the field to fix. The webhook denies
 * with these messages and the controller reports them on status. Checked whether or not routing
 * is enabled, so that switching it on later never strands existing resources.
 */
export function routeProblems(resource: KaosResource, config: RoutingConfig): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const { name, namespace } = resource.metadata;
  if (!name) problems.push({ field: 'metadata.name', message: 'Required value' });
  if (!namespace) {
    problems.push({ field: 'metadata.namespace', message: 'Required value' });
  } else {
    const namespaceProblem = dns1123LabelProblem(namespace);
    if (namespaceProblem) problems.push({ field: 'metadata.namespace', message: `${JSON.stringify(namespace)} ${namespaceProblem}` });
  }

  if (name) {
    const route = routeName(resource);
    const routeProblem = dns1123SubdomainProblem(route);
    if (routeProblem) problems.push({ field: 'metadata.name', message: `HTTPRoute name ${JSON.stringify(route)} ${routeProblem}` });

    const service = serviceName(resource);
    const serviceProblem = dns1035LabelProblem(service);
    if (serviceProblem) {
      const longestName = 63 - KIND_ROUTING[resource.kind].servicePrefix.length - 1;
      problems.push({
        field: 'metadata.name',
        message: `Service name ${JSON.stringify(service)} ${serviceProblem}; a ${resource.kind} name can have at most ${longestName} characters`,
      });
    }
  }

  if (name && namespace) {
    const path = routePathPrefix(resource);
    for (const pathProblem of pathPrefixProblems(path)) {
      problems.push({ field: 'metadata.name', message: `route path ${JSON.stringify(path)} ${pathProblem}` });
    }
  }

  const timeout = resource.spec.gatewayRoute?.timeout;
  if (timeout !== undefined && !isGatewayDuration(timeout)) {
    problems.push({ field: 'spec.gatewayRoute.timeout', message: new DurationError(timeout).message });
  }
  const defaultTimeout = config.defaultTimeouts[resource.kind];
  if (timeout === undefined && !isGatewayDuration(defaultTimeout)) {
    problems.push({
      field: KIND_ROUTING[resource.kind].defaultTimeoutVariable,
      message: new DurationError(defaultTimeout).message,
    });
  }
  return problems;
}
