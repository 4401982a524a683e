import { jestConfig } from '../jest.preset.js';

// End-to-end tests start real control planes: long timeouts, and at most two at a time on 2 cores.
export default jestConfig(import.meta.url, {
  testMatch: ['<rootDir>/src/**/*.e2e.test.ts', '<rootDir>/src/**/*.test.ts', '<rootDir>/bench/**/*.test.ts'],
  testTimeout: 180_000,
  maxWorkers: 2,
  collectCoverage: false,
});
