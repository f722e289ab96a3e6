// The informer transforms a list page by page: by the time the next page is asked for, the last one's objects
// are already in their cached form, so a list of thousands of whole objects is never held at once.
import test from 'ava';
import type { KubeClient } from '../../../operator/kube/client.ts';
import type { KubeObject } from '../../../operator/kube/types.ts';
import { resources } from '../../../operator/kube/types.ts';
import { Informer } from '../../../operator/runtime/informer.ts';

const cm = (i: number): KubeObject =>
  ({
    metadata: { name: `c${i}`, namespace: 'ns', resourceVersion: String(i) },
    data: { big: 'x'.repeat(100) },
  }) as KubeObject;

test('each page is transformed before the next is listed, and the cache holds every page', async (t) => {
  const transformedWhenAsked: number[] = [];
  let transformed = 0;
  const pages = [[cm(1), cm(2)], [cm(3), cm(4)], [cm(5)]];
  const client = {
    name: 'hub',
    observe: () => () => undefined,
    listPages: async function* () {
      for (const items of pages) {
        transformedWhenAsked.push(transformed);
        yield { items, resourceVersion: '9' };
      }
    },
    watch: async function* (_r: unknown, o: { signal: AbortSignal }) {
      if (!o.signal.aborted)
        await new Promise<void>((resolve) => o.signal.addEventListener('abort', () => resolve(), { once: true }));
    },
  } as unknown as KubeClient;
  const inf = new Informer<KubeObject>({
    client,
    resource: resources.configMaps,
    transform: (o) => {
      transformed++;
      return { apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata } as KubeObject;
    },
  });
  inf.start();
  await inf.waitForSync();
  await inf.stop();
  t.deepEqual(transformedWhenAsked, [0, 2, 4], 'page n asked for after the pages before it were transformed');
  t.deepEqual(
    inf
      .list()
      .map((o) => o.metadata?.name)
      .sort(),
    ['c1', 'c2', 'c3', 'c4', 'c5'],
  );
  t.is((inf.get('ns/c3') as KubeObject & { data?: unknown }).data, undefined, 'the cache holds the transformed form');
  t.is(inf.get('ns/c3')?.kind, 'ConfigMap', 'list items get their kind');
});
