// The controller runtime's public surface: one import for controllers and main.ts.
export { FakeClock, realClock, sleep, timeoutSignal } from './clock.ts';
export type { Clock, TimerHandle } from './clock.ts';
export { ExponentialBackoff, MaxOfRateLimiter, TokenBucket, defaultControllerRateLimiter } from './backoff.ts';
export type { ExponentialBackoffOptions, RateLimiter, TokenBucketOptions } from './backoff.ts';
export { WorkQueue } from './workqueue.ts';
export type { QueueObserver, WorkQueueOptions } from './workqueue.ts';
export { Store, namespaceIndex } from './store.ts';
export type { Cache, IndexFunc } from './store.ts';
export { Informer, stripManagedFields } from './informer.ts';
export type { EventHandler, InformerOptions, InformerState } from './informer.ts';
export { Controller, generationChanged } from './controller.ts';
export type { ControllerOptions, KeyMapper, ReconcileContext, Reconciler, Result, WatchSpec } from './controller.ts';
export {
  conditionsEqual,
  findCondition,
  isConditionTrue,
  metaTime,
  removeCondition,
  setCondition,
} from './conditions.ts';
export type { Condition, ConditionInput, ConditionStatus } from './conditions.ts';
export { EventRecorder, microTime } from './events.ts';
export type { EventRecorderOptions, ObjectReference } from './events.ts';
export { ensureFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from './finalizers.ts';
export type { FinalizerOptions } from './finalizers.ts';
export { controllerOf, isControlledBy, mapToController, ownerReference, withOwnerReference } from './owners.ts';
export { LeaderElector } from './leader.ts';
export type { LeaderElectionOptions } from './leader.ts';
export { createMetrics, observeClient, observeInformer, queueObserver } from './metrics.ts';
export type { RuntimeMetrics } from './metrics.ts';
export { startOpsServer } from './health.ts';
export type { Check, OpsServer, OpsServerOptions } from './health.ts';
export { createLogger, keyFields, silentLogger } from './log.ts';
export type { LogOptions, Logger } from './log.ts';
export { ConfigError, envName, parseDuration, parseRuntimeConfig, runtimeFlags } from './config.ts';
export type { RuntimeConfig } from './config.ts';
export { LeadershipLostError, Manager, RunnableError } from './manager.ts';
export { shutdownSignal } from './signals.ts';
export type { LeaseSettings, ManagedInformerOptions, ManagerOptions, Runnable } from './manager.ts';
