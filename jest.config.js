// One jest run, three tiers. Unit specs sit beside the code; integration specs talk to a real
// nats-server and Postgres; e2e goes through the gateway. `npm test` (scripts/test.mjs) starts
// both servers and passes NATS_URL and DATABASE_URL; run alone, tests use this machine's.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2024',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testEnvironment: 'node',
  // Workspace packages resolve to their TypeScript sources (the `@acai/source` export condition).
  testEnvironmentOptions: { customExportConditions: ['@acai/source', 'node', 'node-addons'] },
  rootDir: '.',
};

export default {
  // A safety net for tests that talk to real servers, not a performance assertion.
  testTimeout: 120_000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/{apps,libs,examples}/*/src/**/*.spec.ts',
        '<rootDir>/test/unit/**/*.spec.ts',
      ],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: [
        '<rootDir>/{apps,libs}/*/src/**/*.int-spec.ts',
        '<rootDir>/test/integration/**/*.int-spec.ts',
      ],
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
    },
  ],
};
