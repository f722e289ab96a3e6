// One definition of a model's hash, the bytes32 that the signed task, the gateway's capability statement, every
// receipt and the verifier name: the SHA-256 of the model artefact, as `spec.model.hash` pins it
// (`sha256:<64 hex>` or `0x<64 hex>`, written 0x + 64 lowercase hex). A requester checks it end to end with
// `sha256sum` of the weights it pinned: the same value is in the task it signed, in the attested capability
// (the gateway refuses to start serving other bytes: the ONNX backend hashes the file it loads) and in each
// receipt. A reference that is not a content hash (a TrainingJob from scratch names `dataset:…`; older
// tasks an `hf://` URI) is named by keccak256 of its UTF-8 text, as before.
import { keccak256, toUtf8Bytes } from 'ethers';

const SHA256_PREFIXED = /^sha256:([0-9a-fA-F]{64})$/;
const BYTES32 = /^0x([0-9a-fA-F]{64})$/;

/** The artefact SHA-256 a content hash names, as 0x + 64 lowercase hex; undefined when `ref` is not one. */
export function contentModelHash(ref: string): string | undefined {
  const m = SHA256_PREFIXED.exec(ref) ?? BYTES32.exec(ref);
  return m ? `0x${(m[1] as string).toLowerCase()}` : undefined;
}

/** The bytes32 model hash of a model reference: its content hash when it is one, else keccak256 of its text. */
export function modelHashOf(ref: string): string {
  return contentModelHash(ref) ?? keccak256(toUtf8Bytes(ref));
}
