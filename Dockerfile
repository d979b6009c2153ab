# syntax=docker/dockerfile:1
# faasflow in a container: one instance (supervisor, gateways, containers, segments) per container,
# `faasflow up --foreground` as its main process. Built the way test/export/40.pid1.test.ts checks
# it without a container engine: the package packed, the tarball installed into an empty /app.
#
#   docker build -t faasflow .
#   faasflow export k8s --image faasflow > faasflow.yaml        # Kubernetes: ConfigMap, Deployment, …
#   faasflow export k8s --files ./etc                             # the same config and handlers, for docker
#   docker run --init --shm-size 1100m -p 8080:8080 -v "$PWD/etc:/app/etc:ro" faasflow \
#     up --foreground --log-format json --config /app/etc/faasflow.config.mjs
#
# /dev/shm must hold every segment (`faasflow export k8s` prints the figure); Docker's default is
# 64 MiB. The exported config listens on 0.0.0.0 (a hand-written one must, too). --init (or Kubernetes'
# shareProcessNamespace, which the exported Deployment sets) gives the container an init that reaps
# what a handler started and left behind: Node does not reap processes it did not start.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# node-gyp builds the native module (shm, sandbox launcher) from source.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
# The native module (the oclif manifest step loads every command, and they load it), the
# TypeScript and the manifest, then the package as npm would publish it.
RUN npm run install && npm run build && npm pack --ignore-scripts --pack-destination /tmp
WORKDIR /app
# npm 11 runs a dependency's install scripts only when the project names it in allowScripts:
# faasflow's native build (a tarball is named by its file: spec) and esbuild's binary check.
RUN tgz="$(ls /tmp/faasflow-*.tgz)" \
  && printf '{"name":"faasflow-app","private":true,"allowScripts":{"file:%s":true,"esbuild":true}}\n' "$tgz" > package.json \
  && npm install --no-audit --no-fund --omit=dev "$tgz" \
  && test -x node_modules/faasflow/build/Release/faasflow-sandbox

FROM ${NODE_IMAGE}
# Not root: each security domain then runs under Landlock and rlimits (no uid of its own), and
# nothing in the container can change the files of the image.
RUN groupadd --gid 10001 faasflow \
  && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin faasflow
COPY --from=build /app /app
RUN ln -s /app/node_modules/faasflow/bin/run.js /usr/local/bin/faasflow && chmod -R a+rX /app
USER 10001:10001
WORKDIR /app/etc
ENV HOME=/tmp NODE_ENV=production
EXPOSE 8080
# SIGTERM drains (gateway.drainDelay with /healthz at 503, then the listener closes and accepted
# requests finish) and faasflow exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["faasflow"]
CMD ["up", "--foreground", "--log-format", "json", "--config", "/app/etc/faasflow.config.mjs"]
