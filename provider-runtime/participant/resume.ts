// Resuming a training workload from the checkpoint its attempt was given. The operator puts it in the pods'
// env (NVDAX_RESUME_URI, NVDAX_RESUME_SHA256, NVDAX_RESUME_STEP, NVDAX_RESUME_PARENT; see
// operator/materialize/training.ts); a worker loads the bytes and checks them against the signed hash before
// it trains on them, and its first checkpoint names NVDAX_RESUME_PARENT as parent, so the lineage in status
// continues unbroken. A federated participant gets the model from the coordinator instead and checks that.
import { checkResume, LineageError, type ResumeFrom } from '../../operator/training/lineage.ts';
import type { CheckpointStore } from '../../operator/training/store.ts';

const HASH = /^sha256:[0-9a-f]{64}$/;

/** The resume point in `env`, undefined when none is set; a partial or malformed one throws a LineageError. */
export function resumeFromEnv(env: Record<string, string | undefined>): ResumeFrom | undefined {
  const uri = env['NVDAX_RESUME_URI'];
  const sha256 = env['NVDAX_RESUME_SHA256'];
  const step = env['NVDAX_RESUME_STEP'];
  const parent = env['NVDAX_RESUME_PARENT'];
  if (uri === undefined && sha256 === undefined && step === undefined && parent === undefined) return undefined;
  if (!uri || !sha256 || !step || !parent)
    throw new LineageError(
      'BadResume',
      'NVDAX_RESUME_URI, NVDAX_RESUME_SHA256, NVDAX_RESUME_STEP and NVDAX_RESUME_PARENT go together; some are missing',
    );
  if (!HASH.test(sha256))
    throw new LineageError('BadResume', `NVDAX_RESUME_SHA256 ${JSON.stringify(sha256)} is not sha256:<hex>`);
  if (!HASH.test(parent))
    throw new LineageError('BadResume', `NVDAX_RESUME_PARENT ${JSON.stringify(parent)} is not sha256:<hex>`);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(step))
    throw new LineageError('BadResume', `NVDAX_RESUME_STEP ${JSON.stringify(step)} is not a step`);
  return { uri, sha256, step: Number(step), parent };
}

/**
 * Loads the resume checkpoint from `store` and checks its bytes hash to the signed record's; throws a
 * LineageError (`ResumeMissing`, `ResumeContentMismatch`) naming the URI and both hashes otherwise.
 */
export async function loadResume(r: ResumeFrom, store: CheckpointStore): Promise<Uint8Array> {
  return checkResume(r, await store.get(r.uri));
}
