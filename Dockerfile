# syntax=docker/dockerfile:1
# Build stage: dev dependencies (TypeScript) and native addons (bcrypto) compiled here.
FROM node:24-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY actors ./actors
COPY workers ./workers
COPY bench ./bench
COPY test ./test
RUN npm ci && npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and compiled JavaScript only, non-root.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    MLS_RELAY_NETWORK__HOST=0.0.0.0 \
    MLS_RELAY_DATA__PATH=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/main.js", "relay", "-c", "config/relay.toml"]
