// Container images, always pinned by digest: a tag can be moved to other bytes after the job
// was placed (and confidential evidence and receipts name what actually ran), so neither our
// engine images nor a user's image are ever pulled by tag.
import type { InferenceEngine, TrainingEngine } from '../api/constants.ts';
import { MaterializeError } from './common.ts';

/**
 * Our pinned engine images (`repo@sha256:<64 hex>`). The tag each digest was taken from is in
 * the comment; `hack/` refreshes the table. Never `:latest`, never a bare tag.
 */
export const engineImages: Readonly<Record<Exclude<InferenceEngine | TrainingEngine, 'Custom'>, string>> = {
  // vllm/vllm-openai:v0.11.0
  vLLM: 'docker.io/vllm/vllm-openai@sha256:7e820745670987367768a1303b2e8e01692cbce97d235eb3afae0aea21b52578',
  // nvcr.io/nvidia/tritonserver:25.09-py3
  Triton: 'nvcr.io/nvidia/tritonserver@sha256:23d57f7f7f4c07792291580089de75ed4b783b3732e69defc168260192c851c0',
  // ghcr.io/nvdax/onnx-server:0.1.0 (ours: ONNX Runtime behind an Open Inference Protocol server)
  ONNXRuntime: 'ghcr.io/nvdax/onnx-server@sha256:c6a722097515ee307500afd5c0475df7dc93797cf829652626eb391f90172816',
  // ghcr.io/huggingface/text-generation-inference:3.3.6
  TGI: 'ghcr.io/huggingface/text-generation-inference@sha256:f6f3cdb20cb4ada49eac18873b77b10450ba96e0cbaa787983dd4f71137509ff',
  // pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime
  PyTorch: 'docker.io/pytorch/pytorch@sha256:81349b1e371043c78b3eed4928d3101e9e965e0fea402fbe4eb86466f4922792',
  // ghcr.io/nvdax/deepspeed:0.17.6 (ours: PyTorch + DeepSpeed)
  DeepSpeed: 'ghcr.io/nvdax/deepspeed@sha256:50c4b7a894d525208facac8e1ffb733411be771fc62a822c88c0b5808028ca64',
  // ghcr.io/nvidia/jax:jax-2025-10 (JAX Toolbox)
  JAX: 'ghcr.io/nvidia/jax@sha256:b3461b1417cc0ec6a628020e4c9d078c575530f85a09135dbc24b590976c5f27',
  // flwr/supernode:1.22.0
  Flower: 'docker.io/flwr/supernode@sha256:630b0be6507b85493130b4b4d1bfb764414b907abed265fd8456de2198cf125b',
};

/**
 * The operator's own image (Dockerfile: one image for every NVDAx process), which runs the attested inference
 * gateway beside a confidential job's model server. Pinned like the engine images; `hack/` refreshes it with
 * them, and the operator's --gateway-image (pinned too) replaces it for a release built elsewhere.
 */
// ghcr.io/nvdax/nvdax:0.1.0
export const operatorImage =
  'ghcr.io/nvdax/nvdax@sha256:9b2f64e0d3a1c7e85f40b6a2d91c3e7f58a0b4d6c2e19f73a85d0c4b6e2f1a37';

/** `name[:tag]@sha256:<64 lowercase hex>`: a reference pinned to one manifest. */
const pinned = /^[a-z0-9][A-Za-z0-9._\-/:]*@sha256:[0-9a-f]{64}$/;

/** Whether `image` is pinned by digest. */
export const isPinned = (image: string): boolean => pinned.test(image);

/**
 * The image a workload runs: the user's `spec.runtime.image` when set (it must be pinned by
 * digest), else our pinned image for the engine. `Custom` needs the user's image.
 */
export function engineImage(engine: InferenceEngine | TrainingEngine, override?: string): string {
  if (override !== undefined && override !== '') {
    if (!isPinned(override)) {
      throw new MaterializeError(
        'spec.runtime.image',
        `${JSON.stringify(override)} must be pinned by digest (image@sha256:<64 hex>), not a tag`,
      );
    }
    return override;
  }
  if (engine === 'Custom') {
    throw new MaterializeError('spec.runtime.image', 'is required when spec.runtime.engine is Custom');
  }
  const image = engineImages[engine];
  if (!image) throw new MaterializeError('spec.runtime.engine', `no pinned image for engine ${engine}`);
  return image;
}

/** The gateway's image: `override` (the operator's --gateway-image; it must be pinned), else {@link operatorImage}. */
export function gatewayImage(override?: string): string {
  if (override === undefined || override === '') return operatorImage;
  if (!isPinned(override)) {
    throw new MaterializeError(
      'gatewayImage',
      `${JSON.stringify(override)} must be pinned by digest (image@sha256:<64 hex>), not a tag`,
    );
  }
  return override;
}
