// Node 24 strips TypeScript types itself, so ava loads the .ts tests as ES modules
// with no loader. Integration tests expect `make sim-test-up` to have started the
// simulated clusters (`make test` does it); see test/helpers/sim.ts.
export default {
  files: ['test/**/*.test.ts'],
  extensions: ['ts'],
  timeout: '3m',
  concurrency: 2,
  environmentVariables: { NODE_NO_WARNINGS: '1' },
};
