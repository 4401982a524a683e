// Shared jest settings: native ESM (the project and @kubernetes/client-node 2.x are ESM-only),
// TypeScript compiled by swc, workspace libraries resolved from source like tsconfig.base.json does.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const workspaceRoot = dirname(fileURLToPath(import.meta.url));

/** Builds the jest config of one nx project; `coverageLines` sets its line-coverage floor. */
export function jestConfig(projectDir, { coverageLines, ...overrides } = {}) {
  const projectRoot = fileURLToPath(new URL('.', projectDir));
  return {
    rootDir: projectRoot,
    displayName: projectRoot.slice(workspaceRoot.length + 1).replace(/\/$/, ''),
    testEnvironment: 'node',
    testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/tools/**/*.test.ts'],
    extensionsToTreatAsEsm: ['.ts'],
    transform: {
      '^.+\\.ts$': [
        '@swc/jest',
        {
          jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
          module: { type: 'es6' },
          sourceMaps: 'inline',
        },
      ],
    },
    moduleNameMapper: {
      '^@kaos/api-types$': join(workspaceRoot, 'libs/api-types/src/index.ts'),
      '^@kaos/routing$': join(workspaceRoot, 'libs/routing/src/index.ts'),
      '^@kaos/kube-runtime$': join(workspaceRoot, 'libs/kube-runtime/src/index.ts'),
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    coverageDirectory: join(workspaceRoot, 'coverage', projectRoot.slice(workspaceRoot.length + 1)),
    coverageReporters: ['text-summary', 'lcov'],
    collectCoverageFrom: ['<rootDir>/src/**/*.ts', '!<rootDir>/src/**/*.test.ts', '!<rootDir>/src/**/*.test-helpers.ts'],
    ...(coverageLines === undefined
      ? {}
      : { collectCoverage: true, coverageThreshold: { global: { lines: coverageLines } } }),
    ...overrides,
  };
}
