import { jestConfig } from '../../jest.preset.js';

// Template tests run the real helm binary (built by e2e:build-tools) over the chart.
export default jestConfig(import.meta.url, {
  testMatch: ['<rootDir>/tests/**/*.test.ts'],
  collectCoverage: false,
  testTimeout: 60_000,
});
