# syntax=docker/dockerfile:1
# mls-relay container image (Cloud Run: config/cloudrun/service.yaml).
# Node 24 is the active LTS line; bookworm-slim keeps glibc, which the prebuilt lmdb and
# msgpackr binaries and our bcrypto build expect. Both stages use the same base image, so
# the native binding built in the first runs in the second (same Node ABI, same glibc).

# ---- build: compiles TypeScript and bcrypto's native BIP-340 verifier ----
FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency runs an install script except bcrypto, and that one is named here instead of
# relying on npm 11's `allowScripts` (npm versions differ in how they read it).
# npm_config_nodedir: node-gyp builds against this image's own Node headers instead of downloading them.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm_config_nodedir=/usr/local npm rebuild bcrypto
COPY tsconfig.json ./
COPY src ./src
COPY actors ./actors
COPY workers ./workers
# tsconfig also lists test/ and bench/; they are not in the image, so only the relay compiles.
RUN npx tsc -p tsconfig.json

# ---- runtime ----
FROM node:24-bookworm-slim
# Listening on every interface, the relay will not start without its public URL (NIP-42 and NIP-98
# check it; the Host header is the client's word): run with -e MLS_RELAY_INFORMATION__RELAY_URL=wss://...
# (a space-separated list if it has several names), as config/cloudrun/service.yaml does.
ENV NODE_ENV=production \
    MLS_RELAY_NETWORK__HOST=0.0.0.0 \
    MLS_RELAY_DATA__PATH=/data
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the lockfile's production tree, with no install scripts at all in the final image:
# --ignore-scripts skips our `prepare` (tsc is a dev dependency, and dist/ comes from the build
# stage) and bcrypto's node-gyp build (there is no toolchain here); its compiled binding is
# copied from the build stage just below. Without it the relay would still run, on the slower
# WebAssembly verifier. test/lifecycle/docker-image.test.ts replays these steps.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/node_modules/bcrypto/build/Release/bcrypto.node ./node_modules/bcrypto/build/Release/bcrypto.node
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/actors ./dist/actors
COPY --from=build /app/dist/workers ./dist/workers
COPY config/relay.toml ./config/relay.toml
# Code stays root-owned and read-only to the relay; only the data directory is its to write.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# Cloud Run sets PORT (read by the relay); 8080 is the default of both.
EXPOSE 8080
# SIGTERM drains in-flight EVENTs, closes sockets with 1001, takes the final snapshot, exits 0 within 8 s.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/main.js", "relay", "-c", "config/relay.toml"]
