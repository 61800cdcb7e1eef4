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
CMD ["node"]
