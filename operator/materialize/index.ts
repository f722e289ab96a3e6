// Pure builders of the member-cluster objects for a placed job: names, labels, the tenant
// namespace, init-data, pinned images, and the workloads themselves. No I/O.
export * from './common.ts';
export * from './images.ts';
export * from './inference.ts';
export * from './initdata.ts';
export * from './names.ts';
export * from './tenant.ts';
export * from './training.ts';
