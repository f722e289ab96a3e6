// Kubernetes Events (events.k8s.io/v1) about the objects a controller manages, so
// `kubectl describe` and `kubectl events` show what happened and why. Repeats of the
// same event (same object, type, reason, action and note) within a window become one
// Event whose `series` count grows — client-go's correlator in simple form. Recording
// never throws: an event lost is logged, it must not fail a reconcile.
import { randomBytes } from 'node:crypto';
import type { KubeClient } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import type { KubeObject } from '../kube/types.ts';
import { resources } from '../kube/types.ts';
import type { Clock } from './clock.ts';
import { realClock } from './clock.ts';
import type { Logger } from './log.ts';
import { silentLogger } from './log.ts';

/** The object an event is about. */
export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

/** Options of an {@link EventRecorder}. */
export interface EventRecorderOptions {
  client: KubeClient;
  /** reportingController, e.g. 'nvdax.io/operator'. */
  controller: string;
  /** reportingInstance, e.g. the pod name. */
  instance: string;
  clock?: Clock;
  log?: Logger;
  /** Repeats within this window are counted into one Event, ms (default 10 min). */
  seriesWindowMs?: number;
  /** Distinct events remembered for counting (default 4096). */
  cacheSize?: number;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  last: number;
  chain: Promise<void>;
}

const reasonPattern = /^[A-Z][A-Za-z0-9]*$/;

/** The metav1.MicroTime string of `t`. */
export function microTime(t: number): string {
  return new Date(t).toISOString().replace(/Z$/, '000Z');
}

/** Writes Events for one controller. */
export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #seen = new Map<string, Seen>();

  constructor(opts: EventRecorderOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
    this.#log = opts.log ?? silentLogger();
  }

  /** A Normal event. */
  normal(regarding: KubeObject | ObjectReference, reason: string, note: string, action = reason): Promise<void> {
    return this.event(regarding, 'Normal', reason, action, note);
  }

  /** A Warning event. */
  warning(regarding: KubeObject | ObjectReference, reason: string, note: string, action = reason): Promise<void> {
    return this.event(regarding, 'Warning', reason, action, note);
  }

  /** Records an event (reason must be PascalCase); resolves once written or given up on, never rejects. */
  event(
    regarding: KubeObject | ObjectReference,
    type: 'Normal' | 'Warning',
    reason: string,
    action: string,
    note: string,
  ): Promise<void> {
    const ref = toReference(regarding);
    if (!reasonPattern.test(reason)) {
      this.#log.error({ reason }, 'Event reason is not PascalCase, event dropped');
      return Promise.resolve();
    }
    const id = JSON.stringify([ref.uid ?? '', ref.namespace ?? '', ref.name, type, reason, action, note]);
    const now = this.#clock.now();
    let seen = this.#seen.get(id);
    const window = this.#o.seriesWindowMs ?? 600_000;
    if (seen !== undefined && now - seen.last > window) seen = undefined;
    this.#seen.delete(id);
    if (seen === undefined) {
      seen = {
        name: eventName(ref.name, now),
        namespace: ref.namespace || 'default',
        count: 0,
        last: now,
        chain: Promise.resolve(),
      };
    }
    this.#seen.set(id, seen);
    if (this.#seen.size > (this.#o.cacheSize ?? 4096)) this.#seen.delete(this.#seen.keys().next().value as string);
    const entry = seen;
    entry.count++;
    entry.last = now;
    const count = entry.count;
    entry.chain = entry.chain.then(() => this.#write(entry, count, ref, type, reason, action, note, now));
    return entry.chain;
  }

  async #write(
    s: Seen,
    count: number,
    ref: ObjectReference,
    type: string,
    reason: string,
    action: string,
    note: string,
    now: number,
  ): Promise<void> {
    const log = { event: s.name, reason, object: ref.namespace ? `${ref.namespace}/${ref.name}` : ref.name };
    try {
      if (count > 1) {
        try {
          const series = { count, lastObservedTime: microTime(now) };
          await this.#o.client.mergePatch(resources.events, s.name, s.namespace, { series });
          return;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      await this.#o.client.create(resources.events, {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: s.name, namespace: s.namespace },
        eventTime: microTime(now),
        reportingController: this.#o.controller,
        reportingInstance: this.#o.instance.slice(0, 128),
        action: action.slice(0, 128),
        reason: reason.slice(0, 128),
        type,
        note: note.slice(0, 1024),
        regarding: ref,
      } as KubeObject);
    } catch (err) {
      this.#log.warn({ ...log, err }, 'Event not recorded');
    }
  }
}

function toReference(o: KubeObject | ObjectReference): ObjectReference {
  if (!('metadata' in o) || o.metadata === undefined) return o as ObjectReference;
  const k = o as KubeObject;
  const ref: ObjectReference = { name: k.metadata?.name ?? '' };
  if (k.apiVersion) ref.apiVersion = k.apiVersion;
  if (k.kind) ref.kind = k.kind;
  if (k.metadata?.namespace) ref.namespace = k.metadata.namespace;
  if (k.metadata?.uid) ref.uid = k.metadata.uid;
  if (k.metadata?.resourceVersion) ref.resourceVersion = k.metadata.resourceVersion;
  return ref;
}

function eventName(objectName: string, now: number): string {
  // Time plus random bits, so two recorders (leader and a former leader) never collide.
  const suffix = `${now.toString(16)}${randomBytes(4).toString('hex')}`;
  return `${objectName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}
