import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { imageBundleOptions } from '../../../scripts/bundle-options.mjs';
import { testRoutingConfig } from './handler.test-helpers.js';

// The image's bundle keeps function names (scripts/bundle-app.mjs, `keepNames`, for readable stack
// traces): esbuild then renames every named closure when it is created, with a defineProperty call.
// A closure named inside the decision runs that on every review; one such closure (the validating
// webhook's `warnings`) cost 3 % of the webhook's CPU in issue 14's profile. This bundles the
// decision the same way, counts the renames, and decides reviews of every common kind.
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
let directory: string;
let driver: string;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'review-decision-names-'));
  driver = join(directory, 'driver.mjs');
  const { outputFiles } = await build({
    stdin: {
      contents: `
        import { decideReview } from './apps/webhook/src/review-decision.ts';
        import { ResourceValidator } from '@kaos/api-types';
        const [config, reviews] = JSON.parse(process.argv[2]);
        const validator = new ResourceValidator();
        const decideAll = () => reviews.map(([webhook, body]) => decideReview(Buffer.from(body), webhook, config, validator));
        decideAll(); // module-level functions are named once, on first use
        const before = globalThis.namedClosures;
        const decisions = decideAll();
        process.stdout.write(JSON.stringify({ renamesPerRound: globalThis.namedClosures - before, decisions }));
      `,
      resolveDir: repositoryRoot,
      sourcefile: 'driver.ts',
      loader: 'ts',
    },
    // Exactly as scripts/bundle-app.mjs builds the image.
    ...imageBundleOptions('webhook'),
    write: false,
    logLevel: 'silent',
  });
  const code = outputFiles[0]!.text;
  // esbuild's helper, minified: `var <n>=(<t>,<v>)=><defineProperty>(<t>,"name",{value:<v>,configurable:!0})`.
  const helper = /=\((\w+),(\w+)\)=>(\w+)\(\1,"name",\{value:\2,configurable:!0\}\)/;
  if (!helper.test(code)) throw new Error("esbuild's keepNames helper not found in the bundle: update this test");
  writeFileSync(driver, `globalThis.namedClosures=0;${code.replace(helper, '=($1,$2)=>(globalThis.namedClosures++,$3($1,"name",{value:$2,configurable:!0}))')}`);
}, 60_000);

afterAll(() => rmSync(directory, { recursive: true, force: true }));

const agent = (spec: Record<string, unknown>) => ({ apiVersion: 'kaos.tools/v1alpha1', kind: 'Agent', metadata: { name: 'a', namespace: 'prod', uid: 'u-a' }, spec });
const review = (operation: 'CREATE' | 'UPDATE', object: unknown, oldObject?: unknown) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: `u-${operation}`, kind: { group: 'kaos.tools', version: 'v1alpha1', kind: 'Agent' }, operation, namespace: 'prod', name: 'a', object, ...(oldObject ? { oldObject } : {}) },
  });

describe('deciding a review in the bundle the image ships', () => {
  it('names no closure per review: allowed, warned, denied and defaulted, on CREATE and UPDATE', () => {
    const reviews: Array<[string, string]> = [
      ['validate', review('CREATE', agent({ modelAPI: 'm', gatewayRoute: { timeout: '60s' } }))],
      ['validate', review('UPDATE', agent({ modelAPI: 'm', gatewayRoute: { timeout: '90s' } }), agent({ modelAPI: 'm', gatewayRoute: { timeout: '60s' } }))],
      ['validate', review('CREATE', agent({ modelAPI: 'm', gatewayRoute: { timeout: '0s' } }))],
      ['validate', review('CREATE', agent({ modelAPI: 'm', gatewayRoute: { timeout: '5 minutes' } }))],
      ['mutate', review('CREATE', agent({ modelAPI: 'm' }))],
      ['mutate', review('UPDATE', agent({ modelAPI: 'm' }), agent({ modelAPI: 'm', gatewayRoute: { timeout: '60s' } }))],
    ];
    const { renamesPerRound, decisions } = JSON.parse(execFileSync(process.execPath, [driver, JSON.stringify([testRoutingConfig, reviews])], { encoding: 'utf8' })) as {
      renamesPerRound: number;
      decisions: Array<{ summary?: { result: string } }>;
    };
    // The reviews took the paths they are here for (so a path that stops running cannot pass unseen).
    expect(decisions.map((decision) => decision.summary?.result)).toEqual(['allowed', 'allowed', expect.stringMatching(/^(warned|allowed)$/), 'denied', 'patched', 'patched']);
    expect(renamesPerRound).toBe(0);
  });
});
