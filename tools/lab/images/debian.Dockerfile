# Stand-in for the official debian:bookworm image, built offline from a
# `debootstrap --variant=minbase` root (imported by build-images.sh as
# dockeropt-lab/rootfs:bookworm). Build context: the staged folder that
# build-images.sh prepares (this folder + host/ with the machine's CA and apt
# sources).
FROM dockeropt-lab/rootfs:bookworm

# apt configuration of the official images (gzip'ed lists, no translations, ...)
COPY common/apt.conf.d/ /etc/apt/apt.conf.d/

# --- this machine's network only -------------------------------------------
# Registries are reached through an egress that re-signs TLS: trust the
# machine's CA bundle, and keep the extra CAs in /usr/local/share/ca-certificates
# so that a later `update-ca-certificates` (e.g. installing ca-certificates)
# keeps them. apt uses the same Debian mirror as the host (copied at build time);
# sources whose keyring is not in the image are dropped.
COPY host/ca/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY host/ca/extra/ /usr/local/share/ca-certificates/
COPY host/apt/ /etc/apt/
RUN set -e; cd /etc/apt/sources.list.d; \
    for f in *; do \
      [ -f "$f" ] || continue; \
      for k in $(sed -n 's/^Signed-By:[[:space:]]*\(\/.*\)/\1/p; s/.*signed-by=\([^] ]*\).*/\1/p' "$f"); do \
        if [ ! -e "$k" ]; then echo "dropping apt source $f (no keyring $k)"; rm -f "$f"; break; fi; \
      done; \
    done; \
    ls -l /etc/apt/sources.list.d
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# ---------------------------------------------------------------------------

ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["bash"]
