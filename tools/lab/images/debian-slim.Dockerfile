# Stand-in for debian:bookworm-slim: the lab's debian:bookworm with the
# official slim dpkg path-exclude rules, cleaned in a build stage and flattened
# onto scratch (deleting files in a later layer would not shrink the image).
FROM debian:bookworm AS clean
COPY common/dpkg-slim-excludes /etc/dpkg/dpkg.cfg.d/docker
RUN set -e; \
    find /usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete; \
    find /usr/share/doc -mindepth 1 -type d -empty -delete; \
    rm -rf /usr/share/groff/* /usr/share/info/* /usr/share/linda/* \
           /usr/share/lintian/overrides/* /usr/share/man/*; \
    find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +; \
    rm -rf /var/cache/apt/* /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /tmp/*

FROM scratch
COPY --from=clean / /
# this machine's network only: trust its CA bundle (see debian.Dockerfile)
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["bash"]
