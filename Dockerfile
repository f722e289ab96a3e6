# The operator image (the provider runtime image comes with its issue). Node 24 runs
# the TypeScript sources directly (type stripping), so there is no build stage.
FROM node:24-bookworm-slim
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY operator/ operator/
COPY cli/ cli/
COPY crds/ crds/
USER node
EXPOSE 8080
ENTRYPOINT ["node", "operator/main.ts"]
