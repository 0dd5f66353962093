# The ptpass worker image (used by docker-compose.yml). TypeScript runs through tsx; no build step.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json worker.ts client.ts ./
COPY bin ./bin
COPY src ./src
COPY drizzle ./drizzle
USER node
# The worker migrates the database, then polls; SIGTERM stops it after the chunks in flight commit.
CMD ["node", "--import", "tsx", "worker.ts"]
