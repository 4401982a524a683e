import type { TSchema } from '@sinclair/typebox';
import { AgentSchema, MCPServerSchema, ModelAPISchema, type KaosKind } from './schemas/resources.js';

/** A printer column of a CRD. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** How one KAOS kind is registered with the API server. */
export interface KindDefinition {
  kind: KaosKind;
  plural: string;
  singular: string;
  listKind: string;
  shortNames: string[];
  schema: TSchema;
  printerColumns: PrinterColumn[];
}

/** Columns this project adds after upstream KAOS's: the route's state, URL and timeout. */
const routeColumns: PrinterColumn[] = [
  {
    name: 'Route',
    type: 'string',
    jsonPath: '.status.gateway.conditions[?(@.type=="RouteReady")].reason',
    description: 'State of the HTTPRoute (RouteReady reason).',
  },
  { name: 'URL', type: 'string', jsonPath: '.status.gateway.url', priority: 1, description: 'URL prefix through the Gateway.' },
  { name: 'Timeout', type: 'string', jsonPath: '.spec.gatewayRoute.timeout', priority: 1 },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

/** Upstream KAOS's Ready and Phase columns, in its order. */
const workloadColumns: PrinterColumn[] = [
  { name: 'Ready', type: 'boolean', jsonPath: '.status.ready' },
  { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
];

/**
 * The three KAOS kinds, in a stable order. Names, short names and printer columns start with
 * upstream KAOS's own, so `kubectl get api` and the columns users know keep working.
 */
export const KIND_DEFINITIONS: readonly KindDefinition[] = [
  {
    kind: 'Agent',
    plural: 'agents',
    singular: 'agent',
    listKind: 'AgentList',
    shortNames: ['agent', 'agents', 'agt'],
    schema: AgentSchema,
    printerColumns: [
      { name: 'ModelAPI', type: 'string', jsonPath: '.spec.modelAPI' },
      { name: 'Model', type: 'string', jsonPath: '.spec.model' },
      ...workloadColumns,
      ...routeColumns,
    ],
  },
  {
    kind: 'ModelAPI',
    plural: 'modelapis',
    singular: 'modelapi',
    listKind: 'ModelAPIList',
    shortNames: ['api', 'apis', 'mapi'],
    schema: ModelAPISchema,
    printerColumns: [{ name: 'Mode', type: 'string', jsonPath: '.spec.mode' }, ...workloadColumns, ...routeColumns],
  },
  {
    kind: 'MCPServer',
    plural: 'mcpservers',
    singular: 'mcpserver',
    listKind: 'MCPServerList',
    shortNames: ['mcp', 'mcps'],
    schema: MCPServerSchema,
    printerColumns: [{ name: 'Runtime', type: 'string', jsonPath: '.spec.runtime' }, ...workloadColumns, ...routeColumns],
  },
];

/** The definition of one kind; throws for a kind that is not a KAOS kind. */
export function kindDefinition(kind: string): KindDefinition {
  const definition = KIND_DEFINITIONS.find((candidate) => candidate.kind === kind);
  if (!definition) {
    throw new Error(`unknown kind "${kind}": expected one of ${KIND_DEFINITIONS.map((d) => d.kind).join(', ')}`);
  }
  return definition;
}

/** Whether `kind` is one of the KAOS kinds. */
export function isKaosKind(kind: unknown): kind is KaosKind {
  return KIND_DEFINITIONS.some((definition) => definition.kind === kind);
}
