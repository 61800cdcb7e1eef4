# Stand-in for golang:1.19 from Debian's golang-1.19 (plus gcc/libc6-dev for
# cgo, git, make, pkg-config like the official image).
FROM debian:bookworm
RUN --mount=type=cache,id=dockeropt-lab-apt-archives,target=/var/cache/apt/archives,sharing=locked \
    --mount=type=cache,id=dockeropt-lab-apt-lists,target=/var/lib/apt/lists,sharing=locked \
    --mount=type=bind,source=common,target=/mnt \
    sh /mnt/apt-install.sh golang-1.19-go gcc libc6-dev make pkg-config git ca-certificates
ENV GOPATH=/go
ENV PATH=/go/bin:/usr/lib/go-1.19/bin:$PATH
# No module proxy is reachable from this machine: modules must come from the
# build context / standard library only.
ENV GOPROXY=off
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go && go version
WORKDIR /go
