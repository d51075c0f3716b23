# One image for every marrowbridge service; docker-compose.yml picks the process with `command`.
# The project installs its own Node 22 (the `node` devDependency), so any Node with npm works as the base.
FROM node:22-bookworm-slim
WORKDIR /app
RUN npm install -g pnpm@12.4.2
# Dependencies first, for the layer cache.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY packages packages
COPY services services
COPY fhir-profiles fhir-profiles
COPY test/package.json test/package.json
COPY bench/package.json bench/package.json
COPY scripts scripts
COPY patches patches
COPY samples samples
COPY tsconfig.base.json tsconfig.json ./
RUN pnpm install --frozen-lockfile
ENV NODE_ENV=production
USER node
CMD ["pnpm", "--filter", "@marrowbridge/gateway", "start"]
