import test from 'ava';

// The project pins Node 24 (npm devDependency node@24); the machines ship Node 20,
// on which type stripping, ava 8 and our syntax fail. Guard against running on the wrong one.
test('tests run on the pinned Node 24', (t) => {
  t.is(Number(process.versions.node.split('.')[0]), 24);
});
