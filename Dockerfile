# syntax=docker/dockerfile:1
# One image for every NVDAx process: the hub operator (the default), the provider agent and
# the provider runtime (gateway, participant). Node 24 runs the TypeScript sources directly
# (type stripping), so there is no compile step; the build stage only installs production
# dependencies. Charts pick the process with `command`:
#   node operator/main.ts                  hub operator (default)
#   node provider-runtime/agent/main.ts    provider agent (pull mode)
#   node provider-runtime/gateway/main.ts  inference gateway
#   node cli/nvdax.ts                      the CLI
#   make image  (or: docker build -t nvdax:dev .)
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# --ignore-scripts: no install script runs (onnxruntime-node's CUDA download among them). Then
# keep only this platform's ONNX Runtime binaries (the package ships darwin, win32 and both
# Linux architectures: ~220 MB that this image never loads).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && arch="$(node -p process.arch)" \
 && for d in node_modules/onnxruntime-node/bin/napi-v*; do \
      find "$d" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + ; \
      find "$d/linux" -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} + ; \
    done \
 && rm -rf /root/.npm

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# nothing here installs packages at run time: drop npm, npx, corepack and yarn
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg
ENV NODE_ENV=production NODE_NO_WARNINGS=1
WORKDIR /app
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --chown=0:0 package.json ./
COPY --chown=0:0 operator/ operator/
COPY --chown=0:0 provider-runtime/ provider-runtime/
COPY --chown=0:0 cli/ cli/
COPY --chown=0:0 crds/ crds/
COPY --chown=0:0 contracts/artifacts/ contracts/artifacts/
# files owned by root, process as the image's unprivileged `node` user (uid 1000): the code
# cannot be changed by the process, and the charts run it with a read-only root filesystem
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node"]
CMD ["operator/main.ts"]
