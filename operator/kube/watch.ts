// Decoding of a watch response: newline-delimited JSON events, split across chunks at
// any byte (multi-byte characters included). ERROR events carry a metav1.Status and
// are thrown as KubeError (410 → isGone), so callers handle one error path.
import { StringDecoder } from 'node:string_decoder';
import { KubeError } from './errors.ts';

/** One event of a watch stream (ERROR events are thrown as KubeError instead). */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: T;
}

/** Yields the events of a watch body until it ends; throws on an ERROR event. */
export async function* parseWatchStream<T>(body: AsyncIterable<unknown>, path: string): AsyncGenerator<WatchEvent<T>> {
  const decoder = new StringDecoder('utf8');
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.write(chunk as Buffer);
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === '') continue;
      const ev = JSON.parse(line) as { type: string; object: unknown };
      if (ev.type === 'ERROR') {
        const st = ev.object as { code?: number };
        throw KubeError.fromStatus(st.code ?? 500, ev.object, `WATCH ${path}`);
      }
      yield ev as WatchEvent<T>;
    }
  }
}
