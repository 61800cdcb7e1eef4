# Stand-in for python:3.11 (BASE=debian:bookworm, EXTRA_PACKAGES with the
# compiler toolchain, like the official buildpack-deps based image) and
# python:3.11-slim (BASE=debian:bookworm-slim). Debian bookworm's python3 is 3.11.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG PACKAGES="python3 python3-pip python3-venv python-is-python3 ca-certificates"
ARG EXTRA_PACKAGES=""
RUN --mount=type=cache,id=dockeropt-lab-apt-archives,target=/var/cache/apt/archives,sharing=locked \
    --mount=type=cache,id=dockeropt-lab-apt-lists,target=/var/lib/apt/lists,sharing=locked \
    --mount=type=bind,source=common,target=/mnt \
    set -e; \
    sh /mnt/apt-install.sh $PACKAGES $EXTRA_PACKAGES; \
    # the official images have no EXTERNALLY-MANAGED marker: pip installs into
    # the system python
    rm -f /usr/lib/python3*/EXTERNALLY-MANAGED; \
    [ -e /usr/bin/pip ] || ln -s pip3 /usr/bin/pip; \
    python --version; python3 --version; pip --version; pip3 --version
# like the official image: LANG set, PYTHONDONTWRITEBYTECODE not set
ENV LANG=C.UTF-8
CMD ["python3"]
