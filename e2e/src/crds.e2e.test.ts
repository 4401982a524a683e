// Our CRDs in a real kube-apiserver: the API server's own schema and CEL answers, printer columns,
// and agreement between the API server and the webhook's Ajv validators on the same objects.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ResourceValidator } from '@kaos/api-types';
import type { ControlPlane } from './control-plane/index.js';
import { createNamespace, kubectlOk, kubectlWithManifest, startTestCluster } from './support/cluster.js';

let plane: ControlPlane;
let namespace: string;
const validator = new ResourceValidator();

beforeAll(async () => {
  plane = await startTestCluster();
  namespace = await createNamespace(plane, 'crds');
});
afterAll(async () => {
  await plane?.stop();
});

const agent = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'kaos.tools/v1alpha1',
  kind: 'Agent',
  metadata: { name, namespace },
  spec: { modelAPI: 'my-model', ...spec },
});

describe('the API server with our CRDs', () => {
  it('stores a valid Agent and rejects an invalid one with the CEL message', async () => {
    await kubectlOk(plane, ['apply'], agent('valid', { gatewayRoute: { timeout: '300s' }, config: { description: 'Example agent' } }));
    const stored = JSON.parse(await kubectlOk(plane, ['get', 'agent', 'valid', '-n', namespace, '-o', 'json']));
    expect(stored.spec.gatewayRoute.timeout).toBe('300s');

    const rejected = await kubectlWithManifest(plane, ['apply'], agent('invalid', { gatewayRoute: { timeout: '5 minutes' } }));
    expect(rejected.code).not.toBe(0);
    expect(rejected.stderr).toContain('spec.gatewayRoute.timeout');
    expect(rejected.stderr).toContain('must be a Gateway API duration (e.g. 30s, 1m, 1h30m)');
    const missing = await plane.kubectl(['get', 'agent', 'invalid', '-n', namespace]);
    expect(missing.code).not.toBe(0);
  });

  it('defaults agentNetwork.expose to true through the schema', async () => {
    await kubectlOk(plane, ['apply'], agent('networked', { agentNetwork: { access: ['other'] } }));
    const stored = JSON.parse(await kubectlOk(plane, ['get', 'agent', 'networked', '-n', namespace, '-o', 'json']));
    expect(stored.spec.agentNetwork).toEqual({ expose: true, access: ['other'] });
  });

  it('lists all kinds with our printer columns', async () => {
    const listNamespace = await createNamespace(plane, 'columns');
    await kubectlOk(plane, ['apply'], { ...agent('listed', { gatewayRoute: { timeout: '300s' } }), metadata: { name: 'listed', namespace: listNamespace } });
    await kubectlOk(plane, ['apply'], { apiVersion: 'kaos.tools/v1alpha1', kind: 'MCPServer', metadata: { name: 'echo', namespace: listNamespace }, spec: { runtime: 'python-string' } });
    await kubectlOk(plane, ['apply'], {
      apiVersion: 'kaos.tools/v1alpha1',
      kind: 'ModelAPI',
      metadata: { name: 'my-model', namespace: listNamespace },
      spec: { mode: 'Hosted', hostedConfig: { model: 'smollm2:135m' } },
    });
    const table = await kubectlOk(plane, ['get', 'agents,modelapis,mcpservers,httproutes', '-A']);
    // Upstream KAOS's columns first, then ours.
    expect(table).toMatch(/NAMESPACE\s+NAME\s+MODELAPI\s+MODEL\s+READY\s+PHASE\s+ROUTE\s+AGE/);
    expect(table).toMatch(/NAMESPACE\s+NAME\s+MODE\s+READY\s+PHASE\s+ROUTE\s+AGE/);
    expect(table).toMatch(/NAMESPACE\s+NAME\s+RUNTIME\s+READY\s+PHASE\s+ROUTE\s+AGE/);
    expect(table).toMatch(new RegExp(`${listNamespace}\\s+agent.kaos.tools/listed\\s+my-model`));
    expect(table).toMatch(new RegExp(`${listNamespace}\\s+modelapi.kaos.tools/my-model\\s+Hosted`));
    const wide = await kubectlOk(plane, ['get', 'agents', '-n', listNamespace, '-o', 'wide']);
    expect(wide).toMatch(/URL\s+TIMEOUT\s+AGE/);
    expect(wide).toMatch(/listed\s+my-model(\s+<none>)*\s+300s/);
    const category = await kubectlOk(plane, ['get', 'kaos', '-n', listNamespace, '-o', 'name']);
    expect(category.split('\n').filter(Boolean).sort()).toEqual([
      'agent.kaos.tools/listed',
      'mcpserver.kaos.tools/echo',
      'modelapi.kaos.tools/my-model',
    ]);
    for (const shortNames of ['agt,mapi,mcp', 'agent,api,mcps']) {
      expect((await kubectlOk(plane, ['get', shortNames, '-n', listNamespace, '-o', 'name'])).split('\n').filter(Boolean).sort()).toEqual([
        'agent.kaos.tools/listed',
        'mcpserver.kaos.tools/echo',
        'modelapi.kaos.tools/my-model',
      ]);
    }
  });
});

describe('embedded core types and unknown fields', () => {
  // The webhook leaves these to the API server, which checks them before any validating webhook runs.
  it.each<[string, Record<string, unknown>, string]>([
    ['an env var without name', agent('core-1', { container: { env: [{ value: 'x' }] } }), 'spec.container.env[0].name: Required value'],
    ['a podSpec without containers', agent('core-2', { podSpec: { nodeSelector: { disk: 'ssd' } } }), 'spec.podSpec.containers: Required value'],
    ['a memory limit that is not a quantity', agent('core-3', { container: { resources: { limits: { memory: 'lots' } } } }), 'spec.container.resources.limits.memory'],
    ['a container port as a string', agent('core-4', { podSpec: { containers: [{ name: 'a', ports: [{ containerPort: 'http' }] }] } }), 'spec.podSpec.containers[0].ports[0].containerPort'],
    ['a field upstream KAOS does not know', agent('core-5', { config: { env: [{ name: 'A', value: 'b' }] } }), 'unknown field "spec.config.env"'],
    ['a misspelt podSpec field', agent('core-6', { podSpec: { containers: [{ name: 'a' }], nodeSelectr: {} } }), 'unknown field "spec.podSpec.nodeSelectr"'],
  ])('refuses %s, naming the field', async (_name, object, message) => {
    const result = await kubectlWithManifest(plane, ['apply', '--dry-run=server'], object);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it('stores full core types unchanged: env from a Secret, quantities, a pod spec override', async () => {
    const spec = {
      modelAPI: 'my-model',
      model: 'openai/gpt-4o',
      container: {
        image: 'example.com/agent:1',
        env: [{ name: 'KEY', valueFrom: { secretKeyRef: { name: 'llm', key: 'api-key' } } }],
        resources: { limits: { memory: '256Mi', cpu: '500m' }, requests: { cpu: '100m' } },
      },
      podSpec: { containers: [{ name: 'agent', ports: [{ containerPort: 8000 }] }], nodeSelector: { disk: 'ssd' } },
    };
    await kubectlOk(plane, ['apply'], agent('core-stored', spec));
    const stored = JSON.parse(await kubectlOk(plane, ['get', 'agent', 'core-stored', '-n', namespace, '-o', 'json']));
    // containers[].ports[].protocol is defaulted to TCP, as in a Pod and in upstream's CRD.
    expect(stored.spec.podSpec.containers[0].ports).toEqual([{ containerPort: 8000, protocol: 'TCP' }]);
    expect(stored.spec.container).toEqual(spec.container);
    expect(stored.spec.podSpec.nodeSelector).toEqual({ disk: 'ssd' });
  });
});

describe('the webhook validators agree with the API server', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['a minimal Agent', agent('agree-1', {})],
    ['a zero timeout', agent('agree-2', { gatewayRoute: { timeout: '0ms' } })],
    ['a four-component timeout', agent('agree-3', { gatewayRoute: { timeout: '1h1m1s1ms' } })],
    ['a five-component timeout', agent('agree-4', { gatewayRoute: { timeout: '1h1m1s1ms1h' } })],
    ['a six-digit timeout', agent('agree-5', { gatewayRoute: { timeout: '100000s' } })],
    ['a fractional timeout', agent('agree-6', { gatewayRoute: { timeout: '1.5s' } })],
    ['an over-long timeout', agent('agree-7', { gatewayRoute: { timeout: '1h'.repeat(15) } })],
    ['reasoningLoopMaxSteps 21', agent('agree-8', { config: { reasoningLoopMaxSteps: 21 } })],
    ['reasoningLoopMaxSteps 20', agent('agree-9', { config: { reasoningLoopMaxSteps: 20 } })],
    ['duplicate mcpServers', agent('agree-10', { mcpServers: ['a', 'a'] })],
    ['typed memory settings', agent('agree-11', { config: { memory: { enabled: false, contextLimit: 100 }, telemetry: { enabled: true, endpoint: 'http://otel:4317' } } })],
    ['no modelAPI', { ...agent('agree-12', {}), spec: { model: 'x' } }],
    ['a Proxy ModelAPI without proxyConfig', { apiVersion: 'kaos.tools/v1alpha1', kind: 'ModelAPI', metadata: { name: 'agree-13', namespace }, spec: { mode: 'Proxy' } }],
    ['a Hosted ModelAPI without hostedConfig', { apiVersion: 'kaos.tools/v1alpha1', kind: 'ModelAPI', metadata: { name: 'agree-14', namespace }, spec: { mode: 'Hosted' } }],
    ['a Proxy ModelAPI with no models', { apiVersion: 'kaos.tools/v1alpha1', kind: 'ModelAPI', metadata: { name: 'agree-15', namespace }, spec: { mode: 'Proxy', proxyConfig: { models: [] } } }],
    ['a ModelAPI of unknown mode', { apiVersion: 'kaos.tools/v1alpha1', kind: 'ModelAPI', metadata: { name: 'agree-16', namespace }, spec: { mode: 'Local' } }],
    ['an MCPServer without runtime', { apiVersion: 'kaos.tools/v1alpha1', kind: 'MCPServer', metadata: { name: 'agree-17', namespace }, spec: { params: 'x' } }],
    ['a valid MCPServer', { apiVersion: 'kaos.tools/v1alpha1', kind: 'MCPServer', metadata: { name: 'agree-18', namespace }, spec: { runtime: 'r', gatewayRoute: { timeout: '30s' } } }],
  ];

  it.each(cases)('%s', async (_name, object) => {
    const server = await kubectlWithManifest(plane, ['apply', '--dry-run=server'], object);
    const serverAccepts = server.code === 0;
    const problems = validator.problems(object);
    expect({ serverAccepts, problems: problems.length === 0 ? 'none' : problems, stderr: serverAccepts ? '' : server.stderr.trim() }).toEqual(
      expect.objectContaining({ serverAccepts: problems.length === 0 }),
    );
    for (const problem of problems) expect(server.stderr).toContain(problem.field);
  });
});
