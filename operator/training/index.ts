// Federated training, hub side: what a TrainingJob controller uses. See docs/training.md.
export { type Admission, AdmissionError, type AdmissionRequest, type Admit, attestedAdmission } from './admission.ts';
export { fedAvg, type LocalResult, type RoundAggregate, updateVector } from './aggregate.ts';
export {
  Coordinator,
  type CoordinatorOptions,
  type FederatedSettings,
  type ParticipantEvent,
  type RoundFailure,
  type RoundRecord,
  type RunResult,
} from './coordinator.ts';
export {
  anchorPayload,
  type CheckpointRecord,
  checkResume,
  Lineage,
  type LineageAnchor,
  LineageError,
  type LineageSnapshot,
  lastVerified,
  lineageAnchor,
  recordHash,
  type ResumeFrom,
  resumeFrom,
  verifyHistory,
  verifyLineage,
} from './lineage.ts';
export { type CheckpointStore, checkpointUri, FileStore } from './store.ts';
export { modelHash } from './vector.ts';
