# Stand-in for node:18 (BASE=debian:bookworm plus EXTRA_PACKAGES: git, compiler
# toolchain, python3; yarn v1 installed with npm) and node:18-slim
# (BASE=debian:bookworm-slim: nodejs + npm only). Debian bookworm's nodejs is 18.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG PACKAGES="nodejs npm"
ARG EXTRA_PACKAGES=""
ARG INSTALL_YARN=0
RUN --mount=type=cache,id=dockeropt-lab-apt-archives,target=/var/cache/apt/archives,sharing=locked \
    --mount=type=cache,id=dockeropt-lab-apt-lists,target=/var/lib/apt/lists,sharing=locked \
    --mount=type=bind,source=common,target=/mnt \
    set -e; \
    sh /mnt/apt-install.sh $PACKAGES $EXTRA_PACKAGES; \
    if [ "$INSTALL_YARN" = 1 ]; then \
      npm install -g yarn@1; npm cache clean --force; rm -rf /root/.npm; \
      yarn --version; \
    fi; \
    # the official images have a `node` user, uid/gid 1000, home /home/node
    groupadd --gid 1000 node; \
    useradd --uid 1000 --gid node --shell /bin/bash --create-home node; \
    node --version; npm --version
# Like the official node images (slim ones too): yarn 1 and corepack on PATH.
# (0.33 is the last corepack release whose engines include node 18)
ARG COREPACK_VERSION=0.33.0
# this machine's network only (see debian.Dockerfile): corepack's default
# download host for yarn 2+ is not reachable, the npm registry is; and the
# egress serves npm metadata without signatures, which corepack checks
# (COREPACK_INTEGRITY_KEYS=0 skips that). The registry is set by build-images.sh
# from the host's npm configuration (empty: corepack's defaults).
ARG LAB_NPM_REGISTRY=""
# corepack's npm package also links yarn/pnpm shims; like the official images,
# only `corepack` is on PATH until `corepack enable`, and yarn is yarn 1.
RUN set -e; \
    npm install -g --force corepack@$COREPACK_VERSION; \
    rm -f /usr/local/bin/yarn /usr/local/bin/yarnpkg /usr/local/bin/pnpm /usr/local/bin/pnpx; \
    npm install -g --force yarn@1; \
    npm cache clean --force; rm -rf /root/.npm; \
    yarn --version; corepack --version; ! command -v pnpm
ENV COREPACK_NPM_REGISTRY=$LAB_NPM_REGISTRY \
    COREPACK_INTEGRITY_KEYS=0
CMD ["node"]
